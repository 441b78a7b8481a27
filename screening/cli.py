"""The `screening` command line."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select

from . import create_app, store
from .auth import ROLES
from .config import settings_from_env


def _app() -> Flask:
    return create_app()


def _session(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["db_sessionmaker"]()


@click.group()
def main() -> None:
    """Sanctions screening service."""


@main.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    from .db import upgrade

    app = _app()
    upgrade(app.config["DATABASE_URL"])
    click.echo(f"database ready: {_safe_url(app.config['DATABASE_URL'])}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@main.command("load-list")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--actor", default="cli", show_default=True, help="Who the audit log names.")
def load_list(path: Path | None, actor: str) -> None:
    """Validate a list file and make it the current version (no new version if unchanged)."""
    from . import store
    from .listfile import ListValidationError, load_list_file

    path = path or (Path(p) if (p := settings_from_env()["LIST_PATH"]) else None)
    try:
        document = load_list_file(path)
    except ListValidationError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    from .db import write_sessions
    from .lists import write_transaction

    app = _app()
    with write_transaction(write_sessions(app)) as session:
        result = store.publish_document(session, document, actor=actor, action="load-list",
                                        summary=f"load-list {path or 'lists/designations.yaml'}")
    if result.created:
        click.echo(f"list version {result.version}: {result.summary}")
    else:
        click.echo(f"list unchanged: still version {result.version}")
    _index_current(app)


def _index_current(app: Flask) -> None:
    """After a list change: build the current version's index into the cache now, so the next start-up (a bulk run,
    a server) loads it instead of building it."""
    from .liststate import get_state, index_cache_dir

    if index_cache_dir(app) is None:
        return
    started = time.perf_counter()
    snapshot = get_state(app).refresh()
    click.echo(f"index ready for list version {snapshot.version} ({time.perf_counter() - started:.1f} s)")


@main.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option("--role", type=click.Choice(list(ROLES)), required=True)
@click.option("--label", default=None, help="A name for the key's holder; the audit log shows it.")
def keys_create(role: str, label: str | None) -> None:
    """Print a new key once, alone on the last line."""
    from .auth import create_key

    app = _app()
    label = label or f"{role}-{os.getpid()}"
    with _session(app) as session:
        key = create_key(session, role=role, label=label)
        session.commit()
    click.echo(f"created {role} key '{label}'. It is shown only now; store it safely:")
    click.echo(key)


@keys.command("list")
def keys_list() -> None:
    from .models import ApiKey

    app = _app()
    with _session(app) as session:
        for row in session.scalars(select(ApiKey).order_by(ApiKey.id)):
            state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
            click.echo(f"{row.key_id}\t{row.role}\t{row.label}\t{row.created_at:%Y-%m-%d %H:%M}\t{state}")


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by its id (the part after `scr_`, as `keys list` shows)."""
    from .auth import revoke_key

    app = _app()
    with _session(app) as session:
        if not revoke_key(session, key_id):
            click.echo(f"no active key {key_id}", err=True)
            sys.exit(1)
        session.commit()
    click.echo(f"revoked {key_id}")


@main.group("lists")
def lists_group() -> None:
    """Import, inspect and restore list versions."""


def _run_change(operation, **kwargs):  # type: ignore[no-untyped-def]
    from . import store
    from .db import write_sessions
    from .lists import write_transaction
    from .listfile import ListValidationError

    app = _app()
    try:
        with write_transaction(write_sessions(app)) as session:
            return operation(session, **kwargs)
    except ListValidationError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    except (LookupError, store.VersionConflict) as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)


@lists_group.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["native", "ofac-csv", "ftm"]), required=True)
@click.option("--mode", type=click.Choice(["replace", "merge"]), default="merge", show_default=True)
@click.option("--allow-empty", is_flag=True, help="Let a replace with no entries empty the list (refused otherwise).")
@click.option("--actor", default="cli", show_default=True)
def lists_import(paths: tuple[Path, ...], fmt: str, mode: str, allow_empty: bool, actor: str) -> None:
    """Import a list. ofac-csv takes a zip, a folder, or the files sdn.csv [alt.csv add.csv sdn_comments.csv]."""
    from .importers import OFAC_PARTS, parse_import
    from .lists import import_document
    from .listfile import ListValidationError

    files: dict[str, bytes] = {}
    if fmt == "ofac-csv":
        candidates = [p for path in paths for p in (sorted(path.iterdir()) if path.is_dir() else [path])]
        for candidate in candidates:
            name = candidate.name.lower()
            if name.endswith(".zip"):
                files["zip"] = candidate.read_bytes()
            for part, filename in OFAC_PARTS.items():
                if name == filename or name.endswith("_" + filename):
                    files[part] = candidate.read_bytes()
    else:
        files["file"] = paths[0].read_bytes()
    try:
        document = parse_import(fmt, files)
    except ListValidationError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    for warning in document.warnings[:20]:
        click.echo(f"warning: {warning.location}: {warning.message}", err=True)
    result = _run_change(import_document, document=document, mode=mode, actor=actor, allow_empty=allow_empty)
    state = f"list version {result.version}" if result.created else f"list unchanged: still version {result.version}"
    click.echo(f"{state}: {result.summary} ({len(document.warnings)} warnings)")
    _index_current(_app())


@lists_group.command("index")
def lists_index() -> None:
    """Build the current version's index into the cache, without changing the list: after a matcher upgrade or
    for a new cache directory, so that the next start-up (a bulk run, a server) loads it instead of building it."""
    from .liststate import index_cache_dir

    app = _app()
    if index_cache_dir(app) is None:
        click.echo("no index cache (SCREENING_INDEX_CACHE_DIR is off): nothing to build", err=True)
        sys.exit(1)
    _index_current(app)


@lists_group.command("versions")
@click.option("--limit", type=int, default=20, show_default=True)
def lists_versions(limit: int) -> None:
    from .lists import versions

    app = _app()
    with _session(app) as session:
        listing = versions(session, limit=limit)
    for v in listing["versions"]:
        mark = "*" if v["version"] == listing["current"] else " "
        click.echo(f"{mark} {v['version']:>4}  {v['created_at'][:19]}  {v['actor']:<12} {v['summary']}")


@lists_group.command("diff")
@click.argument("version", type=int)
@click.option("--against", type=int, default=None, help="Default: the version before.")
def lists_diff(version: int, against: int | None) -> None:
    from .lists import VersionNotFound, diff

    app = _app()
    with _session(app) as session:
        try:
            result = diff(session, version, version - 1 if against is None else against)
        except VersionNotFound as exc:
            click.echo(f"no list version {exc}", err=True)
            sys.exit(1)
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))


@lists_group.command("restore")
@click.argument("version", type=int)
@click.option("--actor", default="cli", show_default=True)
def lists_restore(version: int, actor: str) -> None:
    from .lists import restore

    result = _run_change(restore, version=version, actor=actor)
    click.echo(f"list version {result.version}: {result.summary}" if result.created
               else f"list unchanged: version {result.version} already equals version {version}")
    _index_current(_app())


@main.group("audit")
def audit_group() -> None:
    """The audit trail."""


@audit_group.command("prune")
@click.option("--days", type=int, default=None, help="Default: SCREENING_AUDIT_RETENTION_DAYS.")
def audit_prune(days: int | None) -> None:
    """Delete screening records older than the retention period (list changes are kept)."""
    from .api.audit import prune_screenings

    app = _app()
    with _session(app) as session:
        removed = prune_screenings(session, days if days is not None else app.config["AUDIT_RETENTION_DAYS"])
        session.commit()
    click.echo(f"pruned {removed} screening records")


def _charset(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--charset must name a text encoding: a usage error (exit code 2) before anything is read."""
    from .bulk import CsvRefused, check_charset

    if value:
        try:
            check_charset(value)
        except CsvRefused as exc:
            raise click.BadParameter(str(exc)) from None
    return value


@main.command("bulk")
@click.argument("input_path", type=click.Path(path_type=Path))
@click.argument("output_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name-column", default="name", show_default=True)
@click.option("--type-column", default=None)
@click.option("--id-column", default=None, help="Kept in the audit trail as each row's reference.")
@click.option("--threshold", type=float, default=None)
@click.option("--charset", default=None, callback=_charset,
              help="Default: detected (UTF-8, UTF-16 with BOM, else cp1252 for Western text, others guessed).")
@click.option("--processes", type=int, default=os.cpu_count() or 1, show_default=True,
              help="Worker processes (with --dask local: the LocalCluster's workers).")
@click.option("--actor", default="cli", show_default=True)
@click.option("--dask", "dask_address", default=None, metavar="ADDRESS|local",
              help="Screen on a Dask cluster (its scheduler's address, or local for a LocalCluster). IN may then be "
                   "a folder or a glob of CSV or Parquet files, OUT a .parquet file. Needs: pip install "
                   "'screening[dask]'.")
@click.option("--partition-rows", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="With --dask: rows per task.")
def bulk(input_path: Path, output_path: Path, name_column: str, type_column: str | None, id_column: str | None,
         threshold: float | None, charset: str | None, processes: int, actor: str, dask_address: str | None,
         partition_rows: int) -> None:
    """Screen every row of a CSV file; write it back with the match columns, in order, with a progress bar.

    Cells a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return, also after
    leading single quotes) are written with a single quote added in front."""
    from tqdm import tqdm

    from . import bulk as bulkmod
    from .config import default_threshold
    from .liststate import get_state

    if not dask_address and not input_path.is_file():
        raise click.BadParameter(f"{str(input_path)!r} is not a file (a folder or a glob needs --dask).",
                                 param_hint="'INPUT_PATH'")
    if not dask_address and output_path.suffix.lower() in (".parquet", ".pq"):
        raise click.BadParameter("Parquet output needs --dask.", param_hint="'OUTPUT_PATH'")
    app = _app()
    options = bulkmod.BulkOptions(name_column=name_column, type_column=type_column, id_column=id_column,
                                  threshold=threshold, charset=charset,
                                  max_name_length=app.config["MAX_NAME_LENGTH"])
    if dask_address:  # the module imports nothing of Dask until run(): the default path never loads it
        from .dask_bulk import run

        run(app, str(input_path), output_path, options,
            threshold if threshold is not None else default_threshold(app.config), dask_address, processes,
            partition_rows, actor)
        return
    try:  # the whole file is read once before the list is loaded: a file refused anywhere writes nothing
        with open(input_path, "rb") as source:
            total = bulkmod.check_file(source, options)
    except bulkmod.CsvRefused as exc:
        click.echo(f"refused ({exc.field}): {exc}", err=True)
        sys.exit(2)
    snapshot = get_state(app).snapshot()
    chosen = threshold if threshold is not None else default_threshold(app.config)
    counters = bulkmod.Counters()
    with open(input_path, "rb") as source:
        header, rows, encoding = bulkmod.open_csv(source, options)
        columns = bulkmod.resolve_columns(header, options)
        chunks, pool = bulkmod.parallel_chunks(bulkmod.matcher_screener(snapshot.matcher, chosen), processes)
        try:
            with open(output_path, "w", newline="", encoding="utf-8") as out, _session(app) as session, \
                    tqdm(total=total, unit="row", dynamic_ncols=True, desc=input_path.name) as bar:
                for index, chunk in enumerate(bulkmod.screen_rows(header, rows, columns, options, snapshot.entries,
                                                                  counters, chunks)):
                    out.write(bulkmod.to_csv_text(chunk))
                    # Each chunk's screenings are audited as they come (committed, so a run cut short still
                    # has its record); the worker processes screen the next chunks meanwhile.
                    store.record_audit_batch(session, counters.audit, actor=actor, list_version=snapshot.version,
                                             action="bulk-row", extra={"file": input_path.name})
                    session.commit()
                    counters.audit.clear()
                    if index:
                        bar.update(len(chunk))
                        bar.set_postfix(matches=counters.matched, errors=counters.errors, refresh=False)
        finally:
            if pool is not None:
                pool.terminate()  # every result is in (or the run failed): nothing left to wait for
    click.echo(f"{counters.rows} rows ({encoding}), {counters.matched} with matches, {counters.errors} with errors; "
               f"list version {snapshot.version}; written to {output_path}")
    if counters.stopped:  # the file changed after it was checked
        click.echo(f"incomplete: {counters.stopped}", err=True)
        sys.exit(1)


@main.command("screen")
@click.argument("name")
@click.option("--type", "name_type", type=click.Choice(["person", "organization", "any"]), default="any")
@click.option("--threshold", type=float, default=None)
@click.option("--limit", type=int, default=10)
def screen(name: str, name_type: str, threshold: float | None, limit: int) -> None:
    """Screen one name against the current list and print the matches as JSON."""
    from .api.render import match_json
    from .config import default_threshold
    from .liststate import get_state

    app = _app()
    snapshot = get_state(app).snapshot()
    chosen = threshold if threshold is not None else default_threshold(app.config)
    query, matches = snapshot.matcher.screen(name, type=name_type, threshold=chosen, limit=limit)  # type: ignore[arg-type]
    click.echo(json.dumps({"list_version": snapshot.version, "query": query.normalized,
                           "matches": [match_json(m, query, snapshot) for m in matches]},
                          ensure_ascii=False, indent=2))


@main.group("monitor")
def monitor() -> None:
    """Ongoing monitoring: subjects and re-screen runs."""


@monitor.command("import")
@click.argument("input_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--actor", default="cli", show_default=True)
@click.option("--batch", type=int, default=2000, show_default=True, help="Subjects committed together.")
def monitor_import(input_path: Path, actor: str, batch: int) -> None:
    """Add or update subjects from a CSV (reference,name,type,birth_date,country; other columns kept as metadata),
    with a progress bar; invalid lines are reported with their number and skipped."""
    from tqdm import tqdm

    from . import monitoring

    app = _app()
    try:
        items = monitoring.parse_csv(input_path.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(2)
    totals = {"created": 0, "updated": 0, "unchanged": 0}
    errors: list[dict[str, object]] = []
    with _session(app) as session, tqdm(total=len(items), unit="subject", dynamic_ncols=True,
                                        desc=input_path.name) as bar:
        for start in range(0, len(items), batch):
            chunk = items[start:start + batch]
            report = monitoring.upsert_subjects(session, chunk, actor=actor, label="line")
            session.commit()
            for key in totals:
                totals[key] += report[key]
            errors += report["errors"]
            bar.update(len(chunk))
    for error in errors[:100]:
        click.echo(f"line {error['line']}: {error['field']}: {error['message']}", err=True)
    click.echo(json.dumps({**totals, "errors": len(errors)}))
    if errors:
        sys.exit(1)


@monitor.command("run")
@click.option("--full", is_flag=True, help="Queue a full re-screen first.")
def monitor_run(full: bool) -> None:
    """Notice list changes and run the queued re-screens in this process (the workers' runners do the same)."""
    from . import monitoring, monitoring_runner

    app = _app()
    if full:
        monitoring.queue_full_run(app, actor="cli")
    click.echo(json.dumps({"runs": monitoring_runner.run_pending(app)}))


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="Default: SCREENING_PORT or 8000.")
@click.option("--workers", type=int, default=None, help="Default: SCREENING_WORKERS or 2.")
@click.option("--dev", is_flag=True, help="Flask's development server instead of gunicorn.")
def serve(host: str, port: int | None, workers: int | None, dev: bool) -> None:
    """Serve the API (gunicorn with the settings of screening/gunicorn_conf.py)."""
    settings = settings_from_env()
    port = port or settings["PORT"]
    if dev:
        from .jobs import start_runner
        from .monitoring_runner import start_if_enabled
        from .notifications import start_worker

        app = _app()
        start_runner(app)
        start_if_enabled(app)
        start_worker(app)  # webhook deliveries, when SCREENING_WEBHOOK_URL is set
        app.run(host=host, port=port, debug=False)
        return
    os.environ["SCREENING_BIND"] = f"{host}:{port}"
    if workers:
        os.environ["SCREENING_WORKERS"] = str(workers)
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Workers write their metrics here so that /metrics can add them up across workers.
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="screening-metrics-")
    args = [sys.executable, "-m", "gunicorn", "-c", "python:screening.gunicorn_conf", "screening.wsgi:app"]
    os.execv(sys.executable, args)


if __name__ == "__main__":
    main()

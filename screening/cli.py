"""The `screening` command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select

from . import create_app
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
    app = _app()
    with _session(app) as session:
        result = store.publish(session, document, actor=actor, summary=f"load-list {path or 'lists/designations.yaml'}",
                               action="load-list")
        session.commit()
    if result.created:
        click.echo(f"list version {result.version}: {result.summary}")
    else:
        click.echo(f"list unchanged: still version {result.version}")


@main.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option("--role", type=click.Choice(["screener", "admin"]), required=True)
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


@main.command("screen")
@click.argument("name")
@click.option("--type", "name_type", type=click.Choice(["person", "organization", "any"]), default="any")
@click.option("--threshold", type=float, default=None)
@click.option("--limit", type=int, default=10)
def screen(name: str, name_type: str, threshold: float | None, limit: int) -> None:
    """Screen one name against the current list and print the matches as JSON."""
    from .api.render import match_json
    from .liststate import get_state

    app = _app()
    snapshot = get_state(app).snapshot()
    query, matches = snapshot.matcher.screen(name, type=name_type, threshold=threshold, limit=limit)  # type: ignore[arg-type]
    click.echo(json.dumps({"list_version": snapshot.version, "query": query.normalized,
                           "matches": [match_json(m, query, snapshot) for m in matches]},
                          ensure_ascii=False, indent=2))


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
        _app().run(host=host, port=port, debug=False)
        return
    os.environ["SCREENING_BIND"] = f"{host}:{port}"
    if workers:
        os.environ["SCREENING_WORKERS"] = str(workers)
    args = [sys.executable, "-m", "gunicorn", "-c", "python:screening.gunicorn_conf", "screening.wsgi:app"]
    os.execv(sys.executable, args)


if __name__ == "__main__":
    main()

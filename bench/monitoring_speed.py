"""Ongoing monitoring's speed: N subjects (customer names, some close to listed names) against the built-in list plus
the OFAC export (../shared, when there); the first full screen (subjects per second), then a 10-entry list change
to its alerts (the incremental run: candidate search plus re-scoring), then a manual full re-screen.

    python -m bench.monitoring_speed [--subjects 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from typing import Any

from screening import create_app, monitoring, monitoring_runner, store
from screening.db import dispose, write_sessions
from screening.monitoring_models import MonitoringRun

from .bulk_file import rows
from .synthetic import misspell


def _prepare(url: str) -> None:
    from .http_load import prepare

    try:
        prepare(url, "builtin+ofac", 0)
    except FileNotFoundError:  # no peers' data here: the built-in list alone
        from screening.db import upgrade
        from screening.listfile import load_list_file
        from screening.lists import import_document

        upgrade(url)
        app = create_app({"DATABASE_URL": url})
        with write_sessions(app)() as session:
            import_document(session, load_list_file(), mode="replace", actor="bench")
            session.commit()
        dispose(app)


def _run(app: Any) -> dict[str, Any]:
    started = time.monotonic()
    monitoring_runner.run_pending(app, owner="bench")
    elapsed = time.monotonic() - started
    with app.extensions["db_sessionmaker"]() as session:
        run = session.query(MonitoringRun).order_by(MonitoringRun.id.desc()).first()
    assert run is not None and run.status == "done", (run and run.error)
    return {"kind": run.kind, "seconds": round(elapsed, 2), "subjects_total": run.subjects_total,
            "subjects_rescored": run.subjects_rescored, "alerts_opened": run.alerts_opened,
            "hits_cleared": run.hits_cleared, "timings": run.timings,
            "subjects_per_second": round(run.subjects_rescored / elapsed, 1) if elapsed else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subjects", type=int, default=100_000)
    args = parser.parse_args()
    out: dict[str, Any] = {"subjects": args.subjects}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/monitoring.db"
        _prepare(url)
        app = create_app({"DATABASE_URL": url, "INDEX_CACHE_DIR": f"{tmp}/index-cache", "MONITORING_RUNNER": False})
        customers = [r for r in rows(args.subjects, distinct=True) if len(r) == 4 and r[1] and len(r[1]) < 500]
        items = [(i, {"reference": ref, "name": name, "type": kind, "country": country})
                 for i, (ref, name, kind, country) in enumerate(customers)]
        started = time.monotonic()
        with app.extensions["db_sessionmaker"]() as session:
            report = monitoring.upsert_subjects(session, items, actor="bench")
            session.commit()
        out["import_seconds"] = round(time.monotonic() - started, 2)
        out["stored"] = report["created"]
        out["first_full_run"] = _run(app)

        # Ten new entries, named like ten customers with a slip: each change hits a few subjects.
        rng = random.Random(7)
        with write_sessions(app)() as session:
            version = store.current_version(session)
            assert version is not None
            entries = store.version_entries(session, version)
            template = next(e for e in entries if e["type"] == "person" and e["status"] != "delisted")
            for i, (_, name, _, _) in enumerate(rng.sample(customers, 10)):
                new = {**template, "id": f"bench-{i}", "names": [{"name": misspell(name, rng), "kind": "primary"}]}
                entries.append(new)
            store.publish(session, entries, store.version_sources(session, version).values(), actor="bench",
                          summary="bench: 10 entries")
            session.commit()
        out["ten_entry_change"] = _run(app)
        monitoring.queue_full_run(app, actor="bench")
        out["full_rescreen"] = _run(app)
        dispose(app)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

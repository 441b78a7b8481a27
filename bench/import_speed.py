"""Import times: the real 7.4k-entry OFAC export (from ../shared, if present) and 200,000 FollowTheMoney entities.

    python -m bench.import_speed [--entities 200000] [--postgres]

Each import runs the API's code path (parse, validate, publish a version in one transaction) into a fresh
database: SQLite, and with --postgres also a throwaway PostgreSQL cluster.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from screening import create_app
from screening.db import dispose, upgrade, write_sessions
from screening.importers import parse_import
from screening.lists import import_document, write_transaction

from .synthetic import synthetic_entries

PEERS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "peers"
OFAC = {"sdn": "sdn.csv", "alt": "alt.csv", "add": "add.csv", "comments": "sdn_comments.csv"}


def ftm_lines(count: int) -> bytes:
    lines = []
    for entry in synthetic_entries(count, seed=99):
        lines.append(json.dumps({"id": entry["id"], "schema": "Person" if entry["type"] == "person" else "Company",
                                 "properties": {"name": [entry["names"][0]["name"]],
                                                "alias": [n["name"] for n in entry["names"][1:]],
                                                "topics": ["sanction"], "program": ["SYNTHETIC"]},
                                 "datasets": ["synthetic"]}))
    return ("\n".join(lines) + "\n").encode()


def timed_import(url: str, fmt: str, files: dict[str, bytes]) -> tuple[float, float, int]:
    upgrade(url)
    app = create_app({"DATABASE_URL": url})
    start = time.perf_counter()
    document = parse_import(fmt, files)
    parsed = time.perf_counter() - start
    with write_transaction(write_sessions(app)) as session:
        result = import_document(session, document, mode="replace", actor="bench")
    total = time.perf_counter() - start
    dispose(app)
    assert result.created, result.summary
    return parsed, total, len(document.entries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entities", type=int, default=200_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    targets = []
    with tempfile.TemporaryDirectory() as tmp:
        targets.append(("SQLite", lambda name: f"sqlite:///{tmp}/{name}.db"))
        cluster = None
        if args.postgres:
            from tests.pgcluster import start_cluster

            cluster = start_cluster()
            if cluster is None:
                raise SystemExit("PostgreSQL server binaries not found")
            targets.append(("PostgreSQL", lambda name: cluster.url(cluster.create_database())))
        try:
            jobs = []
            if (PEERS / "watchman_test_testdata_sdn.csv").exists():
                jobs.append(("OFAC SDN export (ofac-csv)", "ofac-csv",
                             {k: (PEERS / f"watchman_test_testdata_{v}").read_bytes() for k, v in OFAC.items()}))
            jobs.append((f"{args.entities:,} FollowTheMoney entities (ftm)", "ftm", {"file": ftm_lines(args.entities)}))
            for label, fmt, files in jobs:
                for db_label, make_url in targets:
                    parsed, total, count = timed_import(make_url(fmt.replace("-", "_")), fmt, files)
                    print(f"{label} into {db_label}: {count:,} entries, parsed in {parsed:.1f} s, "
                          f"imported (parsed, validated, versioned, committed) in {total:.1f} s")
        finally:
            if cluster is not None:
                cluster.stop()


if __name__ == "__main__":
    main()

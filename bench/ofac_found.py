"""The real OFAC export (../shared): imported, then every entry's primary name screened through gunicorn's batch
endpoint (2 workers). Counts how many come back with their own `ofac-<ent_num>` among the matches, and first.

    python -m bench.ofac_found [--postgres]
"""

from __future__ import annotations

import argparse
import http.client
import json
import time

from screening import create_app
from screening.auth import create_key
from screening.db import dispose, upgrade, write_sessions
from screening.importers import parse_import
from screening.lists import import_document, write_transaction

from .http_load import PEERS
from .serving import database, gunicorn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    files = {k: (PEERS / f"watchman_test_testdata_{v}.csv").read_bytes()
             for k, v in (("sdn", "sdn"), ("alt", "alt"), ("add", "add"), ("comments", "sdn_comments"))}
    with database(args.postgres) as url:
        upgrade(url)
        app = create_app({"DATABASE_URL": url})
        document = parse_import("ofac-csv", files)
        started = time.perf_counter()
        with write_transaction(write_sessions(app)) as session:
            result = import_document(session, document, mode="replace", actor="bench")
            key = create_key(session, role="screener", label="bench")
        print(f"imported {len(document.entries):,} OFAC entries as version {result.version} "
              f"in {time.perf_counter() - started:.1f} s ({len(document.warnings)} rows skipped with a warning)")
        dispose(app)
        with gunicorn(url) as (port, _):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            queries = [{"id": e.id, "name": e.names[0].name, "type": "person" if e.type == "person" else "any"}
                       for e in document.entries]
            found = first = 0
            missed = []
            started = time.perf_counter()
            for start in range(0, len(queries), 1000):
                conn.request("POST", "/v1/screen/batch", body=json.dumps({"queries": queries[start:start + 1000]}),
                             headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
                for item in json.loads(conn.getresponse().read())["results"]:
                    ids = [m["entry_id"] for m in item["matches"]]
                    found += item["id"] in ids
                    first += bool(ids) and ids[0] == item["id"]
                    if item["id"] not in ids:
                        missed.append(item["query"]["name"])
            elapsed = time.perf_counter() - started
            print(f"primary names screened through the batch endpoint: {len(queries):,} in {elapsed:.1f} s; "
                  f"own entry among the matches {found:,} ({100 * found / len(queries):.2f}%), "
                  f"first {first:,} ({100 * first / len(queries):.2f}%)")
            for name in missed[:10]:
                print(f"  not found: {name}")


if __name__ == "__main__":
    main()

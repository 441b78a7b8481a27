"""The real OFAC export (../shared): imported, then every entry's primary name screened through gunicorn's batch
endpoint (2 workers). Counts how many come back with their own `ofac-<ent_num>` among the matches, and first.

    python -m bench.ofac_found [--postgres]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from screening import create_app
from screening.auth import create_key
from screening.db import dispose, upgrade, write_sessions
from screening.importers import parse_import
from screening.lists import import_document, write_transaction

from .http_load import PEERS, _free_port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    files = {k: (PEERS / f"watchman_test_testdata_{v}.csv").read_bytes()
             for k, v in (("sdn", "sdn"), ("alt", "alt"), ("add", "add"), ("comments", "sdn_comments"))}
    with tempfile.TemporaryDirectory() as tmp:
        cluster = None
        if args.postgres:
            from tests.pgcluster import start_cluster

            cluster = start_cluster()
            url = cluster.url(cluster.create_database())
        else:
            url = f"sqlite:///{tmp}/ofac.db"
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
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-m", "screening.cli", "serve", "--port", str(port)],
                                  env={**os.environ, "SCREENING_DATABASE_URL": url, "SCREENING_WORKERS": "2",
                                       "SCREENING_LOG_LEVEL": "WARNING"},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            for _ in range(240):
                try:
                    conn.request("GET", "/readyz")
                    if conn.getresponse().read() and True:
                        break
                except OSError:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                    time.sleep(0.5)
            queries = [{"id": e.id, "name": e.names[0].name, "type": "person" if e.type == "person" else "any"}
                       for e in document.entries]
            found = first = 0
            missed = []
            started = time.perf_counter()
            for start in range(0, len(queries), 1000):
                body = json.dumps({"queries": queries[start:start + 1000]})
                conn.request("POST", "/v1/screen/batch", body=body,
                             headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
                response = conn.getresponse()
                results = json.loads(response.read())["results"]
                for item in results:
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
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
            if cluster is not None:
                cluster.stop()


if __name__ == "__main__":
    main()

"""Bulk CSV speed against the built-in list plus the 7.4k-entry OFAC export (../shared): a 20,000-row customer file
through the command line (both cores) and through the streamed endpoint of gunicorn (2 workers).

    python -m bench.bulk_speed [--rows 20000] [--distinct]
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .bulk_file import rows, write
from .http_load import prepare
from .serving import gunicorn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--distinct", action="store_true", help="nearly every name different (no repeats to reuse)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bulk.db"
        key, _ = prepare(url, "builtin+ofac", 0)
        source = Path(tmp) / "customers.csv"
        write(source, args.rows, distinct=args.distinct)
        distinct = len({(row[1], row[2] if len(row) > 2 else "") for row in rows(args.rows, distinct=args.distinct)})
        print(f"file: {args.rows:,} rows, {distinct:,} distinct (name, type) pairs")
        # The index cache starts empty: the first run after a list change builds the index (and saves it), later
        # runs load it. Both are reported.
        env = {**os.environ, "SCREENING_DATABASE_URL": url, "SCREENING_LOG_LEVEL": "WARNING",
               "SCREENING_INDEX_CACHE_DIR": f"{tmp}/index-cache"}
        for run in ("first run (index built)", "next run (index loaded)", "next run (index loaded)"):
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "screening.cli", "bulk", str(source), f"{tmp}/out.csv",
                                   "--type-column", "type", "--id-column", "customer_id"], env=env,
                                  capture_output=True, text=True)
            wall = time.perf_counter() - started
            rate = next((p for p in done.stderr.replace("\r", "\n").splitlines()[::-1] if "row/s" in p), "")
            print(f"command line, {run}: {args.rows:,} rows in {wall:.2f} s wall = {args.rows / wall:,.0f} rows/s "
                  f"end to end (start-up, list load, screening, audit); progress bar: {rate.strip()[-50:]}")
            if done.returncode != 0:
                print(done.stderr[-2000:])

        with gunicorn(url, env={"SCREENING_INDEX_CACHE_DIR": f"{tmp}/index-cache"}) as (port, _):
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            conn.request("POST", "/v1/screen/csv?type_column=type&id_column=customer_id", body=source.read_bytes(),
                         headers={"Authorization": f"Bearer {key}", "Content-Type": "text/csv"})
            response = conn.getresponse()
            first = None
            lines = 0
            while chunk := response.read(65536):
                first = first or time.perf_counter() - started
                lines += chunk.count(b"\r\n")
            wall = time.perf_counter() - started
            print(f"streamed endpoint: {args.rows:,} rows in {wall:.1f} s ({args.rows / wall:,.0f} rows/s end to end, "
                  f"status {response.status}, first bytes after {first:.2f} s, {lines:,} CSV lines back)")


if __name__ == "__main__":
    main()

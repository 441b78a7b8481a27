"""Bulk screening on Dask against workers, beside the single-machine command, in one run: a customer file of mostly
distinct names (bench/bulk_file.py --distinct) against the built-in list plus the 7.4k-entry OFAC export (../shared).

    python -m bench.dask_bulk [--rows 1000000] [--workers 1,2] [--partition-rows 10000] [--scheduler ADDRESS]
                              [--workdir DIR] [--no-single]

Each Dask run starts a LocalCluster of N worker processes (one thread each) in this process and times the command
`screening bulk IN OUT --dask ADDRESS` end to end (start-up, the driver's checking pass, list load on the workers,
screening, audit, writing); the cluster's start is reported apart. --scheduler ADDRESS runs on an existing cluster
instead (its workers must see this machine's temporary folder: see the README). Prints JSON: rows/s per run, peak
memory per worker and of the driver, the checking pass's and the audit insert's own rates, and whether every
output equals the single-machine command's byte for byte.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from .bulk_file import write
from .http_load import prepare


def timed_command(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Wall time and peak resident memory of one command (sampled every 0.2 s)."""
    started = time.perf_counter()
    process = psutil.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def sample() -> None:
        while process.poll() is None:
            try:
                peak[0] = max(peak[0], process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    wall = time.perf_counter() - started
    sampler.join()
    assert process.returncode == 0, (args, out[-1000:], err[-3000:])
    return {"seconds": round(wall, 1), "driver_peak_mb": round(peak[0] / 2**20), "summary": out.strip()}


def checking_pass(source: Path) -> dict[str, float]:
    """The driver's own pass over the file (record boundaries every 10,000 rows), alone."""
    from screening.bulk import BulkOptions
    from screening.dask_bulk import plan

    started = time.perf_counter()
    _, _, parts = plan([source], BulkOptions(type_column="type", id_column="customer_id"), 10_000)
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "rows_per_s": round(sum(p.rows for p in parts) / seconds)}


def audit_rate(url: str, rows: int = 20_000) -> float:
    """Rows a second the driver inserts into the audit trail (one batched insert and commit, as per partition)."""
    from screening import create_app, store
    from screening.db import dispose, upgrade

    upgrade(url)
    app = create_app({"DATABASE_URL": url})
    items = [{"query": f"Customer {i}", "reference": f"C{i:07d}",
              "matches": [{"entry_id": "ofac-1234", "score": 0.812}]} for i in range(rows)]
    with app.extensions["db_sessionmaker"]() as session:
        started = time.perf_counter()
        store.record_audit_batch(session, items, actor="bench", list_version=1, action="bench-audit")
        session.commit()
        seconds = time.perf_counter() - started
    dispose(app)
    return round(rows / seconds)


def dask_run(source: Path, out: Path, workers: int, scheduler: str | None, partition_rows: int,
             command: list[str], env: dict[str, str]) -> dict[str, Any]:
    import distributed

    from screening.dask_bulk import peak_memory_mb

    logging.getLogger("distributed").setLevel(logging.WARNING)  # the cluster lives in this process: keep it quiet
    started = time.perf_counter()
    cluster = None if scheduler else distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                                              processes=True, dashboard_address=":0")
    address = scheduler or cluster.scheduler_address  # type: ignore[union-attr]
    cluster_start = time.perf_counter() - started
    try:
        run = timed_command(command + [str(source), str(out), "--dask", address,
                                       "--partition-rows", str(partition_rows)], env)
        with distributed.Client(address) as client:
            memory = client.run(peak_memory_mb)
    finally:
        if cluster is not None:
            cluster.close()
    return {**run, "cluster_start_seconds": round(cluster_start, 1),
            "worker_peak_mb": sorted(round(mb) for mb in memory.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--partition-rows", type=int, default=10_000)
    parser.add_argument("--scheduler", default=None, help="an existing cluster's address instead of LocalClusters")
    parser.add_argument("--no-single", action="store_true", help="skip the single-machine command")
    parser.add_argument("--workdir", default=None, help="where the files go (shared storage for a real cluster)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        url = f"sqlite:///{tmp}/bulk.db"
        prepare(url, "builtin+ofac", 0)
        source = Path(tmp) / "customers.csv"
        write(source, args.rows, distinct=True)
        env = {**os.environ, "SCREENING_DATABASE_URL": url, "SCREENING_LOG_LEVEL": "WARNING",
               "SCREENING_INDEX_CACHE_DIR": f"{tmp}/index-cache"}
        command = [sys.executable, "-m", "screening.cli", "bulk", "--type-column", "type", "--id-column",
                   "customer_id"]
        # The index is built into the snapshot cache first, so every run below loads it. (Not with `load-list`,
        # which would make the built-in list alone the current version.)
        subprocess.run([sys.executable, "-m", "screening.cli", "lists", "index"], env=env, check=True,
                       capture_output=True)
        report: dict[str, Any] = {"rows": args.rows, "file_mb": round(source.stat().st_size / 2**20, 1),
                                  "cpus": os.cpu_count(), "checking_pass": checking_pass(source),
                                  "audit_insert_rows_per_s_sqlite": audit_rate(f"sqlite:///{tmp}/audit.db")}
        single_out = Path(tmp) / "single.csv"
        if not args.no_single:
            run = timed_command(command + [str(source), str(single_out), "--processes", "2"], env)
            report["single_machine_2_processes"] = {**run, "rows_per_s": round(args.rows / run["seconds"])}
            print(json.dumps(report["single_machine_2_processes"]), file=sys.stderr)
        for workers in [int(w) for w in args.workers.split(",")]:
            out = Path(tmp) / f"dask-{workers}.csv"
            run = dask_run(source, out, workers, args.scheduler, args.partition_rows, command, env)
            run["rows_per_s"] = round(args.rows / run["seconds"])
            if single_out.exists():
                run["identical_to_single_machine"] = out.read_bytes() == single_out.read_bytes()
            report[f"dask_{workers}_workers"] = run
            print(json.dumps(run), file=sys.stderr)
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

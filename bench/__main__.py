"""Run every benchmark and evaluation, one after the other: `python -m bench` (or `make bench`)."""

from __future__ import annotations

import subprocess
import sys

STEPS = [
    ["bench.independent"], ["bench.calibrate"],
    ["bench.accuracy"], ["bench.accuracy", "tests/data/name_pairs_holdout.csv"], ["bench.cross_script"],
    ["bench.matcher_speed"], ["bench.neardup"], ["bench.import_speed", "--postgres"], ["bench.ofac_found"],
    ["bench.http_load", "--list", "builtin+ofac", "--seconds", "60"],
    ["bench.http_load", "--list", "builtin+ofac", "--seconds", "60", "--postgres"],
    ["bench.http_load", "--list", "synthetic", "--entries", "200000", "--seconds", "60", "--clients", "2"],
    ["bench.http_load", "--list", "neardup", "--entries", "200000", "--seconds", "60", "--clients", "2"],
    ["bench.bulk_speed"], ["bench.bulk_speed", "--distinct"],
    ["bench.dask_bulk", "--rows", "100000", "--partition-rows", "5000"],
]

if __name__ == "__main__":
    for step in STEPS:
        print(f"\n$ python -m {' '.join(step)}", flush=True)
        subprocess.run([sys.executable, "-m", *step], check=False)

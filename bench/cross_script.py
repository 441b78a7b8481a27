"""Watchman's cross-script name pairs (../shared/data/peers/watchman_cross_script_pairs.csv): the share that match
at the default threshold. Watchman needs an external embedding model for these.

    python -m bench.cross_script [PATH]
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from screening.matching import DEFAULT_THRESHOLD, compare

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "peers" / "watchman_cross_script_pairs.csv"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    with open(path, encoding="utf-8") as handle:
        rows = [r for r in csv.reader(handle) if r and not r[0].startswith("#")]
    matched = 0
    for query, expected, _min_score, description in rows:
        result = compare(query, expected, type="person")
        matched += result.match
        print(f"  {'match' if result.match else 'MISS '} {result.score:5.3f}  {query} ~ {expected}  ({description})")
    print(f"cross-script pairs matching at threshold {DEFAULT_THRESHOLD}: {matched}/{len(rows)} "
          f"({100 * matched / len(rows):.0f}%)")


if __name__ == "__main__":
    main()

"""A customer file for bulk screening: mostly ordinary customers, some list names with slips, and bad rows.

    python -m bench.bulk_file OUT.csv [--rows 20000] [--encoding utf-8|utf-8-sig|utf-16|latin-1] [--delimiter ,]
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

from .synthetic import (ARABIC_GIVEN, SPANISH_FAMILY, SPANISH_GIVEN, WESTERN_FAMILY, WESTERN_GIVEN, misspell)

LISTED = ["Chen Quanguo", "Zhu Hai-lun", "陈全国", "HUO, Liu Jun", "Hikvision", "Zhejiang Dahua Technology Co. Ltd.",
          "Usama bin Ladin", "BANCO NACIONAL DE CUBA", "Xinjiang Public Security Bureau", "Gao Yan"]


def rows(count: int, seed: int = 1, distinct: bool = False) -> list[list[str]]:
    """`distinct`: ordinary customers also get a middle name, so nearly every name in the file is different."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        kind = rng.random()
        if kind < 0.002:
            out.append([f"C{i:06d}", "", "person", "US"])  # a blank name
        elif kind < 0.003:
            out.append([f"C{i:06d}", "X" * 600, "person", "US"])  # an over-long name
        elif kind < 0.004:
            out.append([f"C{i:06d}", "Too Few"])  # too few fields
        elif kind < 0.005:
            out.append([f"C{i:06d}", "Too Many", "person", "US", "extra"])  # too many fields
        elif kind < 0.006:
            out.append([f"C{i:06d}", "Line\nBreak Trading", "organization", "GB"])  # a quoted newline
        elif kind < 0.02:
            out.append([f"C{i:06d}", misspell(rng.choice(LISTED), rng), "any", "CN"])
        else:
            given = rng.choice(WESTERN_GIVEN + SPANISH_GIVEN + ARABIC_GIVEN)
            family = rng.choice(WESTERN_FAMILY + SPANISH_FAMILY)
            if distinct:
                given += " " + rng.choice(WESTERN_GIVEN + SPANISH_GIVEN + ARABIC_GIVEN + WESTERN_FAMILY)
            out.append([f"C{i:06d}", f"{given.title()} {family.title()}", "person", rng.choice(["US", "GB", "MX"])])
    return out


def write(path: Path, count: int, encoding: str = "utf-8", delimiter: str = ",", distinct: bool = False) -> None:
    with open(path, "w", newline="", encoding=encoding, errors="replace") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(["customer_id", "name", "type", "country"])
        writer.writerows(rows(count, distinct=distinct))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--encoding", default="utf-8")
    parser.add_argument("--delimiter", default=",")
    args = parser.parse_args()
    write(args.out, args.rows, args.encoding, args.delimiter)


if __name__ == "__main__":
    main()

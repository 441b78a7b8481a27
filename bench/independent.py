"""Precision, recall and F1 on every labelled set of name pairs, per file and per source (or category), with
yente's logic-v2 scored in the same run.

    python -m bench.independent [--markdown] [--misses FILE] [--no-yente]

Independent data first: ../shared/eval/independent/ (real list names, the lists' own labels; README there). Then
the sets this project wrote (tests/data/), which the scorer was tuned on and so flatter it, and Watchman's
cross-script pairs. Our matcher is judged at its default threshold, logic-v2 at yente's (0.70). logic-v2 runs in
its own virtual environment (`make yente-venv`); without it the column says so.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from screening.matching import DEFAULT_THRESHOLD, compare

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
INDEPENDENT = SHARED / "eval" / "independent"
YENTE_PYTHON = ROOT / ".venv-yente" / "bin" / "python"
YENTE_THRESHOLD = 0.7
SCHEMA = {"person": "Person", "organization": "Organization", "any": "LegalEntity"}


@dataclass
class Pair:
    file: str
    group: str
    type: str  # person, organization or any
    a: str
    b: str
    label: bool


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


def independent_pairs() -> list[Pair]:
    pairs = []
    for path in sorted(INDEPENDENT.glob("*.csv")):
        for r in _rows(path):
            kind = "person" if r["schema"] == "Person" else "organization"
            pairs.append(Pair(path.stem, r["source"].split(":")[0], kind, r["name1"], r["name2"],
                              r["is_match"] == "true"))
    return pairs


def own_pairs() -> list[Pair]:
    pairs = []
    for name in ("name_pairs.csv", "name_pairs_holdout.csv"):
        for r in _rows(ROOT / "tests" / "data" / name):
            pairs.append(Pair(f"ours:{Path(name).stem}", r["category"].split("-")[0], r["type"], r["query"],
                              r["candidate"], r["label"] == "1"))
    for r in _rows(ROOT / "tests" / "data" / "cross_script_pairs.csv"):
        pairs.append(Pair("ours:cross_script_pairs", r["script"], "person", r["query"], r["expected"], True))
    watchman = SHARED / "data" / "peers" / "watchman_cross_script_pairs.csv"
    if watchman.exists():
        with open(watchman, encoding="utf-8") as handle:
            for row in csv.reader(line for line in handle if line.strip() and not line.startswith("#")):
                if row[0] != "Query":  # the header
                    pairs.append(Pair("watchman_cross_script_pairs", "-", "person", row[0], row[1], True))
    return pairs


def yente_scores(pairs: list[Pair]) -> list[float] | None:
    """logic-v2's score for every pair, from its own interpreter (None when it is not installed)."""
    if not YENTE_PYTHON.exists():
        return None
    lines = "".join(json.dumps({"schema": SCHEMA[p.type], "a": p.a, "b": p.b}) + "\n" for p in pairs)
    done = subprocess.run([str(YENTE_PYTHON), str(ROOT / "bench" / "yente_compare.py")], input=lines, text=True,
                          capture_output=True, check=True)
    return [float(x) for x in done.stdout.split()]


def prf(labels: list[bool], hits: list[bool]) -> tuple[float, float, float]:
    tp = sum(1 for label, hit in zip(labels, hits) if label and hit)
    fp = sum(1 for label, hit in zip(labels, hits) if not label and hit)
    fn = sum(1 for label, hit in zip(labels, hits) if label and not hit)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)


def report(pairs: list[Pair], ours: list[float], theirs: list[float] | None, markdown: bool) -> None:
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, pair in enumerate(pairs):
        groups[(pair.file, "all")].append(i)
        if pair.group != "-":
            groups[(pair.file, pair.group)].append(i)
    head = ["file", "source", "pairs", "ours P", "ours R", "ours F1", "logic-v2 P", "logic-v2 R", "logic-v2 F1"]
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + " --- |" * len(head))
    else:
        print(f"{'file':28} {'source':22} {'pairs':>5}   ours P/R/F1 at {DEFAULT_THRESHOLD}      "
              f"logic-v2 P/R/F1 at {YENTE_THRESHOLD}")
    for (file, group), ids in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] != "all", kv[0][1])):
        labels = [pairs[i].label for i in ids]
        cells = [f"{x:.3f}" for x in prf(labels, [ours[i] >= DEFAULT_THRESHOLD for i in ids])]
        if theirs is None:
            cells += ["–", "–", "–"]
        else:
            cells += [f"{x:.3f}" for x in prf(labels, [theirs[i] >= YENTE_THRESHOLD for i in ids])]
        if markdown:
            name = f"**{file}**" if group == "all" else ""
            row = [name, "**all**" if group == "all" else group, str(len(ids))]
            print("| " + " | ".join(row + ([f"**{c}**" for c in cells] if group == "all" else cells)) + " |")
        else:
            print(f"{file if group == 'all' else '':28} {group:22} {len(ids):5}   "
                  f"{' '.join(cells[:3]):22} {' '.join(cells[3:])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--markdown", action="store_true", help="print the table in Markdown (for the README)")
    parser.add_argument("--misses", metavar="FILE", help="print the pairs of FILE judged wrongly by our matcher")
    parser.add_argument("--no-yente", action="store_true", help="do not run logic-v2")
    args = parser.parse_args()
    pairs = independent_pairs() + own_pairs()
    ours = [compare(p.a, p.b, type=p.type).score for p in pairs]  # type: ignore[arg-type]
    theirs = None if args.no_yente else yente_scores(pairs)
    if theirs is None and not args.no_yente:
        print("logic-v2 not run: `make yente-venv` installs it (nomenklatura) in .venv-yente")
    report(pairs, ours, theirs, args.markdown)
    if args.misses:
        for pair, score in zip(pairs, ours):
            if pair.file == args.misses and (score >= DEFAULT_THRESHOLD) != pair.label:
                kind = "missed" if pair.label else "false alarm"
                print(f"  {kind:11} {score:5.3f}  {pair.a!r} ~ {pair.b!r}  [{pair.group}]")


if __name__ == "__main__":
    main()

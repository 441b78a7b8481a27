"""Accuracy of the matcher on labelled name pairs: precision, recall and F1 by threshold, and the misses.

    python -m bench.accuracy [tests/data/name_pairs.csv] [--misses]
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from pathlib import Path

from screening.matching import DEFAULT_THRESHOLD, compare

DEFAULT_PAIRS = Path(__file__).resolve().parent.parent / "tests" / "data" / "name_pairs.csv"


@dataclass
class Scored:
    query: str
    candidate: str
    type: str
    label: int
    category: str
    score: float


def score_pairs(path: Path = DEFAULT_PAIRS) -> list[Scored]:
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [Scored(r["query"], r["candidate"], r["type"], int(r["label"]), r["category"],
                   compare(r["query"], r["candidate"], type=r["type"]).score) for r in rows]  # type: ignore[arg-type]


def confusion(scored: list[Scored], threshold: float) -> tuple[int, int, int, int]:
    tp = sum(1 for s in scored if s.label and s.score >= threshold)
    fp = sum(1 for s in scored if not s.label and s.score >= threshold)
    fn = sum(1 for s in scored if s.label and s.score < threshold)
    tn = sum(1 for s in scored if not s.label and s.score < threshold)
    return tp, fp, fn, tn


def prf(scored: list[Scored], threshold: float) -> tuple[float, float, float]:
    tp, fp, fn, _ = confusion(scored, threshold)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def curve(scored: list[Scored], thresholds: list[float]) -> list[tuple[float, float, float, float]]:
    return [(t, *prf(scored, t)) for t in thresholds]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pairs", nargs="?", type=Path, default=DEFAULT_PAIRS)
    parser.add_argument("--misses", action="store_true", help="print every pair judged wrongly at the default")
    args = parser.parse_args()
    scored = score_pairs(args.pairs)
    positives = sum(s.label for s in scored)
    print(f"{len(scored)} labelled pairs ({positives} same, {len(scored) - positives} different): {args.pairs.name}")
    print("threshold  precision  recall  F1")
    for t, p, r, f in curve(scored, [round(0.60 + 0.025 * i, 3) for i in range(15)]):
        mark = "  <- default" if abs(t - DEFAULT_THRESHOLD) < 1e-9 else ""
        print(f"  {t:5.3f}     {p:6.3f}   {r:6.3f}  {f:6.3f}{mark}")
    tp, fp, fn, tn = confusion(scored, DEFAULT_THRESHOLD)
    p, r, f = prf(scored, DEFAULT_THRESHOLD)
    print(f"at the default threshold {DEFAULT_THRESHOLD}: precision {p:.3f}, recall {r:.3f}, F1 {f:.3f} "
          f"(tp {tp}, fp {fp}, fn {fn}, tn {tn})")
    if args.misses:
        for s in scored:
            if (s.score >= DEFAULT_THRESHOLD) != bool(s.label):
                kind = "missed" if s.label else "false alarm"
                print(f"  {kind:11} {s.score:5.3f}  {s.query!r} ~ {s.candidate!r}  [{s.category}]")


if __name__ == "__main__":
    main()

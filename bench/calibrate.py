"""Where the default threshold sits on the raw score (score.RAW_AT_DEFAULT), chosen on the development data.

    python -m bench.calibrate

For raw thresholds from 0.50 to 0.70, the precision, recall and F1 on each file of ../shared/eval/independent/;
the chosen one maximizes the mean F1 with precision at least 0.95 on every file. Then leave one file out: the
threshold chosen on the other two, and what it gives on the file left out (how much the choice depends on the
data it was made on).
"""

from __future__ import annotations

from collections import defaultdict

from screening.matching import compare
from screening.matching.score import RAW_AT_DEFAULT, raw_score_for

from .independent import independent_pairs, prf

MIN_PRECISION = 0.95
RAW_THRESHOLDS = [round(0.5 + 0.01 * i, 2) for i in range(21)]


def main() -> None:
    by_file: dict[str, list[tuple[bool, float]]] = defaultdict(list)
    for pair in independent_pairs():
        raw = raw_score_for(compare(pair.a, pair.b, type=pair.type).score)  # type: ignore[arg-type]
        by_file[pair.file].append((pair.label, raw))
    files = sorted(by_file)

    def results(threshold: float, chosen_files: list[str]) -> dict[str, tuple[float, float, float]]:
        return {f: prf([label for label, _ in by_file[f]], [raw >= threshold - 1e-9 for _, raw in by_file[f]])
                for f in chosen_files}

    def choose(chosen_files: list[str]) -> float:
        def key(t: float) -> tuple[bool, float]:
            r = results(t, chosen_files)
            return all(p >= MIN_PRECISION for p, _, _ in r.values()), sum(f1 for _, _, f1 in r.values())
        return max(RAW_THRESHOLDS, key=key)

    print("raw threshold  " + "  ".join(f"{f[:16]:>16} P/R/F1" for f in files) + "  mean F1")
    for t in RAW_THRESHOLDS:
        r = results(t, files)
        mark = "  <- RAW_AT_DEFAULT" if abs(t - RAW_AT_DEFAULT) < 1e-9 else ""
        print(f"  {t:.2f}        " + "  ".join(f"{p:.3f}/{rc:.3f}/{f1:.3f}      " for p, rc, f1 in r.values())
              + f"{sum(f1 for _, _, f1 in r.values()) / len(r):.4f}{mark}")
    print(f"chosen on all files: {choose(files):.2f} (RAW_AT_DEFAULT is {RAW_AT_DEFAULT})")
    for held_out in files:
        others = [f for f in files if f != held_out]
        t = choose(others)
        p, rc, f1 = results(t, [held_out])[held_out]
        print(f"  chosen without {held_out}: {t:.2f}; on {held_out}: precision {p:.3f}, recall {rc:.3f}, "
              f"F1 {f1:.3f}")


if __name__ == "__main__":
    main()

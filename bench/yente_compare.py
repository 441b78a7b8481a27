"""Score the same labelled pairs with yente's default matcher (nomenklatura's logic-v2), for comparison.

nomenklatura is not a dependency of this project; run this with an interpreter that has it, e.g.:
    python3.11 -m venv /tmp/yv && /tmp/yv/bin/pip install nomenklatura
    PYTHONPATH=. /tmp/yv/bin/python -m bench.yente_compare tests/data/name_pairs.csv
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from followthemoney import model
from nomenklatura.matching import LogicV2
from nomenklatura.matching.types import ScoringConfig

SCHEMA = {"person": "Person", "organization": "Organization", "any": "LegalEntity"}
YENTE_THRESHOLD = 0.7  # yente's default SCORE_THRESHOLD


def entity(name: str, kind: str, ident: str):  # type: ignore[no-untyped-def]
    proxy = model.make_entity(SCHEMA[kind])
    proxy.id = ident
    proxy.add("name", name)
    return proxy


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("tests/data/name_pairs.csv")
    config = ScoringConfig.defaults()
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    # Unique ids per pair: nomenklatura caches comparisons by entity id.
    scored = [(int(r["label"]), LogicV2.compare(entity(r["query"], r["type"], f"q{i}"),
                                                entity(r["candidate"], r["type"], f"c{i}"), config).score)
              for i, r in enumerate(rows)]
    best = (0.0, 0.0)
    for step in range(0, 41):
        t = round(0.5 + step * 0.0125, 4)
        tp = sum(1 for label, s in scored if label and s >= t)
        fp = sum(1 for label, s in scored if not label and s >= t)
        fn = sum(1 for label, s in scored if label and s < t)
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if abs(t - YENTE_THRESHOLD) < 1e-9:
            print(f"logic-v2 at yente's default threshold {t}: precision {p:.3f}, recall {r:.3f}, F1 {f1:.3f}")
        best = max(best, (f1, t))
    print(f"logic-v2 best F1 over thresholds 0.5-1.0: {best[0]:.3f} at {best[1]}  ({len(scored)} pairs, {path.name})")


if __name__ == "__main__":
    main()

"""Score labelled name pairs with yente's default matcher (nomenklatura's logic-v2), for comparison in the same run.

nomenklatura is not a dependency of this project: it runs in its own virtual environment, made by
`make yente-venv` (pinned in bench/yente-requirements.txt, in .venv-yente), and bench/independent.py calls it
with pairs on stdin, one JSON object per line ({"schema": "Person", "a": "...", "b": "..."}), and reads one score per
line back. Run by hand on a pairs file of this project's format:

    .venv-yente/bin/python bench/yente_compare.py tests/data/name_pairs.csv
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from followthemoney import model
from nomenklatura.matching import LogicV2
from nomenklatura.matching.types import ScoringConfig

SCHEMA = {"person": "Person", "organization": "Organization", "any": "LegalEntity"}
YENTE_THRESHOLD = 0.7  # yente's default SCORE_THRESHOLD


def _entity(schema: str, name: str, ident: str):  # type: ignore[no-untyped-def]
    proxy = model.make_entity(schema)
    proxy.id = ident  # unique ids: nomenklatura caches comparisons by entity id
    proxy.add("name", name)
    return proxy


def score_stream() -> None:
    config = ScoringConfig.defaults()
    for i, line in enumerate(sys.stdin):
        pair = json.loads(line)
        score = LogicV2.compare(_entity(pair["schema"], pair["a"], f"q{i}"),
                                _entity(pair["schema"], pair["b"], f"c{i}"), config).score
        sys.stdout.write(f"{score:.4f}\n")
    sys.stdout.flush()


def main() -> None:
    if len(sys.argv) == 1:
        score_stream()
        return
    path = Path(sys.argv[1])
    config = ScoringConfig.defaults()
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    scored = [(int(r["label"]), LogicV2.compare(_entity(SCHEMA[r["type"]], r["query"], f"q{i}"),
                                                _entity(SCHEMA[r["type"]], r["candidate"], f"c{i}"), config).score)
              for i, r in enumerate(rows)]
    tp = sum(1 for label, s in scored if label and s >= YENTE_THRESHOLD)
    fp = sum(1 for label, s in scored if not label and s >= YENTE_THRESHOLD)
    fn = sum(1 for label, s in scored if label and s < YENTE_THRESHOLD)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    print(f"logic-v2 at yente's threshold {YENTE_THRESHOLD}: precision {precision:.3f}, recall {recall:.3f}, "
          f"F1 {f1:.3f} ({len(scored)} pairs, {path.name})")


if __name__ == "__main__":
    main()

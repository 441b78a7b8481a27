"""The matching engine: framework-free (no Flask, no database).

    >>> from screening.matching import compare
    >>> compare("Chen Quanguo", "CHEN, Quanguo", type="person").match
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .index import DEFAULT_THRESHOLD, EntryMatch, Matcher, ScreenQuery
from .score import NameScore, calibrate, score_forms
from .text import NameForm, NameType, normalize_name

__all__ = ["DEFAULT_THRESHOLD", "Comparison", "EntryMatch", "Matcher", "NameForm", "ScreenQuery", "compare",
           "normalize_name"]


@dataclass(frozen=True)
class Comparison:
    score: float
    match: bool
    explanation: dict[str, Any]


def compare(name_a: str, name_b: str, type: NameType = "any", threshold: float = DEFAULT_THRESHOLD) -> Comparison:
    """Score `name_a` (the query) against `name_b` (the listed name)."""
    query = normalize_name(name_a, type)
    listed = normalize_name(name_b, type)
    result: NameScore = score_forms(query, listed, is_person=type == "person")
    score = round(calibrate(result.score), 3)
    explanation = result.explanation()
    explanation.update({"query_normalized": query.normalized, "list_normalized": listed.normalized,
                        "score": score})
    return Comparison(score=score, match=score >= threshold, explanation=explanation)

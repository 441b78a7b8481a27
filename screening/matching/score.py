"""Scoring two prepared names on their parts, with an explanation of every step.

score = sum over aligned part pairs of similarity * (weight_query + weight_list) / (all query weight + all list weight)

Parts are aligned one to one in any order. Parts that were split ("Quan Guo") or run together ("Chenquanguo") are
merged before alignment. A typo costs little on a long part and much on a short one. A list name's known surname
that finds no partner costs extra for persons: a different family name is a different person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from rapidfuzz.distance import OSA

from .text import NameForm
from .vocab import base_weight

Weigher = Callable[[str], float]

MIN_PART_SIMILARITY = 0.7  # below this two parts are not considered the same part at all
SURNAME_MISSING_FACTOR = 0.8
WEAK_ALIAS_FACTOR = 0.95


def part_similarity(a: str, b: str) -> tuple[float, str]:
    """Similarity of two name parts in [0, 1] and how it was reached."""
    if a == b:
        return 1.0, "exact"
    if len(a) == 1 or len(b) == 1:
        short, long_ = (a, b) if len(a) == 1 else (b, a)
        return (0.75, "initial") if long_.startswith(short) else (0.0, "different")
    distance = OSA.distance(a, b)
    length = max(len(a), len(b))
    # Each edit costs its share of the part, plus a surcharge on parts shorter than five letters, where one letter
    # often makes another name (Yan / Yang, Li / Lu).
    sim = 1.0 - distance / length - max(0, 5 - length) * 0.1
    return (max(0.0, sim), f"{distance} edit{'s' if distance > 1 else ''}")


@dataclass
class PartMatch:
    query: str
    listed: str
    similarity: float
    how: str
    weight_query: float
    weight_list: float

    def as_dict(self) -> dict[str, Any]:
        return {"query": self.query, "list": self.listed, "similarity": round(self.similarity, 3), "how": self.how,
                "weight_query": round(self.weight_query, 3), "weight_list": round(self.weight_list, 3)}


@dataclass
class NameScore:
    score: float
    method: str
    parts: list[PartMatch] = field(default_factory=list)
    unmatched_query: list[str] = field(default_factory=list)
    unmatched_list: list[str] = field(default_factory=list)
    adjustments: list[dict[str, Any]] = field(default_factory=list)
    base: float = 0.0

    def explanation(self) -> dict[str, Any]:
        return {"method": self.method, "base_score": round(self.base, 3),
                "parts": [p.as_dict() for p in self.parts],
                "unmatched_query_parts": self.unmatched_query, "unmatched_list_parts": self.unmatched_list,
                "adjustments": self.adjustments}


def _merge_to_match(tokens: tuple[str, ...], other: tuple[str, ...]) -> tuple[str, ...]:
    """Join adjacent parts whose concatenation is a part of the other name ("quan guo" -> "quanguo")."""
    targets = set(other)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        for span in (3, 2):
            if i + span <= len(tokens):
                joined = "".join(tokens[i:i + span])
                if joined in targets and tokens[i] not in targets:
                    out.append(joined)
                    i += span
                    break
        else:
            out.append(tokens[i])
            i += 1
    return tuple(out)


def _align(query: tuple[str, ...], listed: tuple[str, ...], weigh: Weigher) -> NameScore:
    wq = [weigh(t) for t in query]
    wl = [weigh(t) for t in listed]
    total = sum(wq) + sum(wl)
    if total <= 0:
        return NameScore(0.0, "name-parts", unmatched_query=list(query), unmatched_list=list(listed))
    pairs = []
    for i, a in enumerate(query):
        for j, b in enumerate(listed):
            sim, how = part_similarity(a, b)
            if sim >= MIN_PART_SIMILARITY:
                pairs.append((sim, wq[i] + wl[j], i, j, how))
    pairs.sort(key=lambda p: (-p[0], -p[1]))
    used_q: set[int] = set()
    used_l: set[int] = set()
    matched: list[PartMatch] = []
    gained = 0.0
    for sim, weight, i, j, how in pairs:
        if i in used_q or j in used_l:
            continue
        used_q.add(i)
        used_l.add(j)
        matched.append(PartMatch(query[i], listed[j], sim, how, wq[i], wl[j]))
        gained += sim * weight
    score = gained / total
    return NameScore(score, "name-parts", matched,
                     [t for i, t in enumerate(query) if i not in used_q],
                     [t for j, t in enumerate(listed) if j not in used_l], base=score)


def score_forms(query: NameForm, listed: NameForm, *, is_person: bool, weigh: Weigher = base_weight,
                weak: bool = False) -> NameScore:
    """Score one query name against one list name."""
    if query.han and listed.han and query.han == listed.han:
        result = NameScore(1.0, "han-exact", [PartMatch(query.han, listed.han, 1.0, "same characters", 1.0, 1.0)],
                           base=1.0)
    else:
        candidates = [
            _align(query.tokens, listed.tokens, weigh),
            _align(_merge_to_match(query.tokens, listed.tokens), listed.tokens, weigh),
            _align(query.tokens, _merge_to_match(listed.tokens, query.tokens), weigh),
        ]
        if len(query.tokens) == 1 and len(listed.tokens) > 1:
            # A name written run together ("Chenquanguo"): compare it with the list name written the same way.
            joined = "".join(listed.tokens)
            weight = sum(weigh(t) for t in listed.tokens)
            candidates.append(_align(query.tokens, (joined,), lambda t: weight if t == joined else weigh(t)))
        result = max(candidates, key=lambda r: r.score)
        if is_person and listed.surname and listed.surname in result.unmatched_list:
            result.score *= SURNAME_MISSING_FACTOR
            result.adjustments.append({"reason": f"list surname '{listed.surname}' not found in the query",
                                       "factor": SURNAME_MISSING_FACTOR})
        if is_person and query.surname and query.surname in result.unmatched_query:
            result.score *= SURNAME_MISSING_FACTOR
            result.adjustments.append({"reason": f"query surname '{query.surname}' not found in the list name",
                                       "factor": SURNAME_MISSING_FACTOR})
    if weak:
        result.score *= WEAK_ALIAS_FACTOR
        result.adjustments.append({"reason": "weak alias", "factor": WEAK_ALIAS_FACTOR})
    return result

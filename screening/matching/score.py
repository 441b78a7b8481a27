"""Scoring two prepared names on their parts, with an explanation of every step.

score = sum over aligned part pairs of similarity * (weight_query + weight_list)
        / (weight of the aligned parts + cost of the parts left over on either side)

Parts are aligned one to one in any order. Parts that were split ("Quan Guo") or run together ("Chenquanguo") are
merged before alignment; how alike two parts are is parts.py's. What is left over decides
whether the names name the same thing: parts that only one side has are an omission (a middle name, a patronymic, a
generic word: cheap, when what matched identifies enough), parts that both sides have instead of each other are a
contradiction (Gas for Oil, Igor for Ivan: each costs at least SUBSTITUTION_COST, and for persons the score is
lowered further). A list name's known surname that finds no partner costs extra for persons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from .parts import MIN_MERGED_SIMILARITY, MIN_PART_SIMILARITY, pair_mode, part_similarity
from .phonetic import looks_chinese
from .text import NameForm
from .vocab import base_weight

Weigher = Callable[[str], float]
Similarity = Callable[[int, int], tuple[float, str]]

SURNAME_MISSING_FACTOR = 0.9
WEAK_ALIAS_FACTOR = 0.95
ACRONYM_SCORE = 0.9
# What parts left over on one side cost, as a share of their weight: lists carry patronymics, middle names and
# second surnames that customers' records omit, and organizations' generic words ("Russian Airlines").
OMITTED_PART_COST_PERSON = 0.4
OMITTED_PART_COST_ORG = 0.3
DISTINCTIVE_WEIGHT = 0.7  # an organization's word this heavy is distinctive (not generic, not a place)
DISTINCTIVE_OMISSION_SHARE = 0.3  # what a distinctive word left out costs, when another one matched
OMITTED_NUMBER_COST = 3.0
OMISSION_LIMIT = 2.0  # left-over weight, over the matched weight (per side), beyond which nothing is an omission
MIN_EVIDENCE = 0.6  # matched weight (per side) below which an omission costs in full: "Mohammed" alone is no match
CONTRADICTION_WEIGHT = 0.2  # left-over weight on both sides above which the names contradict each other
SUBSTITUTION_COST = 0.7  # the least a contradicting part costs, however generic (Shipping / Trading)
PERSON_SUBSTITUTION_FACTOR = 0.8  # a person whose part is replaced by another is most often a relative
GIVEN_NAME_FACTOR = 0.85  # ... and more so when the part replaced is the first given name
PARTICLE_WEIGHT = 0.3  # al, abd, allah, bin: not a given name
WEAK_EVIDENCE_FACTOR = 0.7  # a name that agrees on common or generic parts only, the rest left out

@dataclass(slots=True)
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
    same_order: bool = True  # the aligned parts come in the same order on both sides (a tie-breaker)

    def explanation(self) -> dict[str, Any]:
        return {"method": self.method, "base_score": round(self.base, 3),
                "parts": [p.as_dict() for p in self.parts],
                "unmatched_query_parts": self.unmatched_query, "unmatched_list_parts": self.unmatched_list,
                "adjustments": self.adjustments}


Unit = tuple[str, ...]  # one part of an alignment: a token, or adjacent tokens joined ("quan", "guo")


def _merge_to_match(tokens: tuple[str, ...], other: tuple[str, ...], max_span: int = 3) -> tuple[Unit, ...]:
    """Join adjacent parts whose concatenation is (nearly) a part of the other name ("quan guo" -> "quanguo"): up to
    three of the query's, two of a list name's (the joins the index holds, index.py)."""
    if len(tokens) < 2:
        return tuple((t,) for t in tokens)
    targets = set(other)
    out: list[Unit] = []
    i = 0
    while i < len(tokens):
        for span in range(max_span, 1, -1):
            if i + span <= len(tokens) and tokens[i] not in targets:
                pieces = tokens[i:i + span]
                joined = "".join(pieces)
                # Each piece must be needed: "2 academy" is not "2academy" for "academy".
                if joined in targets or any(
                        len(t) >= 6 and abs(len(t) - len(joined)) <= 2 and not t.startswith(joined)
                        and part_similarity(joined, t, merged=True)[0] >= 0.8
                        > max(part_similarity(p, t)[0] for p in pieces) for t in other):
                    out.append(pieces)
                    i += span
                    break
        else:
            out.append((tokens[i],))
            i += 1
    return tuple(out)


@dataclass(frozen=True)
class Costs:
    """What parts left over cost (score.py's rules for persons or organizations)."""

    persons: bool
    omission_share: float  # of a left-over part's weight, when the left-overs are an omission

    def omitted(self, token: str, weight: float) -> float:
        if token.isdigit():
            # A number in a name identifies one of a series (Nord Stream 2, Unit 26165): leaving it out names another.
            return OMITTED_NUMBER_COST * weight
        if self.persons or weight < DISTINCTIVE_WEIGHT:
            return self.omission_share * weight
        return DISTINCTIVE_OMISSION_SHARE * weight

    def evidence_enough(self, matched_weight: float, best_part_weight: float, left_weight: float) -> bool:
        """Whether what matched identifies enough for the left-overs to count as an omission: not "Mohammed" alone,
        and for an organization not generic words and places alone while a distinctive word is left out (Hangzhou
        Digital Technology is not Hangzhou Hikvision Digital Technology; Ministry of Defence is Ministry of National
        Defence)."""
        if matched_weight < MIN_EVIDENCE:
            return False
        return self.persons or best_part_weight >= DISTINCTIVE_WEIGHT or left_weight < DISTINCTIVE_WEIGHT


@lru_cache(maxsize=200_000)
def _base(unit: Unit) -> float:
    return sum(map(base_weight, unit))


def _unpartnered(units: tuple[Unit, ...], weights: list[float], used: set[int],
                 left: list[tuple[Unit, float]]) -> tuple[float, float]:
    """Add one side's parts without a partner to `left`; their weight and the heaviest one's base weight. A part
    repeated on its own side (Ali Ali Abkar) adds nothing when its twin found a partner."""
    weight = heaviest = 0.0
    if len(used) < len(units):
        matched = {units[i] for i in used}
        for i, unit in enumerate(units):
            if i not in used and unit not in matched:
                left.append((unit, weights[i]))
                weight += weights[i]
                heaviest = max(heaviest, _base(unit))
    return weight, heaviest


def _leftover_cost(query: tuple[Unit, ...], listed: tuple[Unit, ...], wq: list[float], wl: list[float],
                   used_q: set[int], used_l: set[int], matched: tuple[float, float], matched_weight: float,
                   costs: Costs) -> tuple[float, bool, bool]:
    """The cost of the parts without a partner, whether they contradict each other, and whether what matched
    (its weight per side, its heaviest part, in general weights) is evidence enough for an omission
    (Costs.evidence_enough)."""
    left: list[tuple[Unit, float]] = []
    weight_q, heaviest_q = _unpartnered(query, wq, used_q, left)
    weight_l, heaviest_l = _unpartnered(listed, wl, used_l, left)
    heaviest = max(heaviest_q, heaviest_l)
    evidence = costs.evidence_enough(matched[0], matched[1], heaviest)
    if weight_q > CONTRADICTION_WEIGHT and weight_l > CONTRADICTION_WEIGHT:
        return sum(max(w, SUBSTITUTION_COST) for _, w in left), True, evidence
    if not evidence or weight_q + weight_l > OMISSION_LIMIT * matched_weight:
        # What is left out outweighs what agrees: not an omission (Vikutor Novikov Pavelovich is not Vector).
        return weight_q + weight_l, False, evidence
    return sum(costs.omitted("".join(u), w) for u, w in left), False, evidence


def _align(query: tuple[Unit, ...], listed: tuple[Unit, ...], weigh: Weigher, costs: Costs,
           mode: str | None = None, similarity: Similarity | None = None) -> NameScore:
    """The best one-to-one alignment of two names' units (greedy, most similar first) and its score. A unit of
    several tokens weighs what its tokens weigh together, and must agree closely (MIN_MERGED_SIMILARITY, by
    part_similarity's `merged` rules). `similarity`, when given, replaces part_similarity (Han characters)."""
    qs = [u[0] if len(u) == 1 else "".join(u) for u in query]
    ls = [u[0] if len(u) == 1 else "".join(u) for u in listed]
    wq = [weigh(u[0]) if len(u) == 1 else sum(map(weigh, u)) for u in query]
    wl = [weigh(u[0]) if len(u) == 1 else sum(map(weigh, u)) for u in listed]
    stems = not costs.persons
    pairs = []
    for i, (unit_q, text_q) in enumerate(zip(query, qs)):
        for j, (unit_l, text_l) in enumerate(zip(listed, ls)):
            if similarity is not None:
                sim, how = similarity(i, j)
            elif len(unit_q) == 1 and len(unit_l) == 1:
                sim, how = part_similarity(text_q, text_l, mode, stems)
            else:
                sim, how = part_similarity(text_q, text_l, mode, False, True)
                if sim < MIN_MERGED_SIMILARITY:
                    continue
            if sim >= MIN_PART_SIMILARITY:  # most similar first, then heaviest, then nearest in order
                pairs.append((-sim, -(wq[i] + wl[j]), abs(i - j), i, j, how))
    pairs.sort()
    used_q: set[int] = set()
    used_l: set[int] = set()
    matched: list[tuple[int, int]] = []
    parts: list[PartMatch] = []
    gained = aligned = evidence_weight = best_part = 0.0
    substantive = False
    for negative_sim, negative_weight, _, i, j, how in pairs:
        if i in used_q or j in used_l:
            continue
        sim, weight = -negative_sim, -negative_weight
        used_q.add(i)
        used_l.add(j)
        matched.append((i, j))
        parts.append(PartMatch(qs[i], ls[j], sim, how, wq[i], wl[j]))
        gained += sim * weight
        aligned += weight
        # What identifies a name in general, not in this list: a word frequent in the list is no less a name.
        base_q, base_l = _base(query[i]), _base(listed[j])
        evidence_weight += base_q + base_l
        best_part = max(best_part, min(base_q, base_l))
        substantive = substantive or (len(qs[i]) > 1 and len(ls[j]) > 1)
    leftover, contradiction, evidence = _leftover_cost(query, listed, wq, wl, used_q, used_l,
                                                       (evidence_weight / 2, best_part), aligned / 2, costs)
    total = aligned + leftover
    score = gained / total if total > 0 and substantive else 0.0
    result = NameScore(score, "name-parts", parts, [t for i, t in enumerate(qs) if i not in used_q],
                       [t for j, t in enumerate(ls) if j not in used_l], base=score)
    order = [j for _, j in sorted(matched)]
    result.same_order = order == sorted(order)
    if matched and not substantive:
        result.adjustments.append({"reason": "only initials agree", "factor": 0.0})
    if contradiction and costs.persons:
        result.score *= PERSON_SUBSTITUTION_FACTOR
        result.adjustments.append({"reason": "a part of one name is replaced by another part",
                                   "factor": PERSON_SUBSTITUTION_FACTOR})
    elif not evidence and result.score > 0:
        result.score *= WEAK_EVIDENCE_FACTOR
        result.adjustments.append({"reason": "what agrees identifies too little (common or generic parts alone)",
                                   "factor": WEAK_EVIDENCE_FACTOR})
    return result


def _given_names_joined(tokens: tuple[str, ...]) -> tuple[Unit, ...] | None:
    """Family name first, two given names joined: "Kim Jong Un" as ("kim", "jongun"). Longer joins would hide a
    replaced name inside one long part (Abdullah Omar Nasser / Abdullah Jamal Nasser)."""
    return (tokens[:1], tokens[1:]) if len(tokens) == 3 else None


def _units(tokens: tuple[str, ...]) -> tuple[Unit, ...]:
    return tuple((t,) for t in tokens)


def _token_score(query: tuple[str, ...], listed: tuple[str, ...], weigh: Weigher, mode: str | None,
                 costs: Costs) -> NameScore:
    """Best alignment of two token sequences, allowing split and run-together parts."""

    def align(q: tuple[Unit, ...], l_: tuple[Unit, ...]) -> NameScore:
        return _align(q, l_, weigh, costs, mode)

    plain_q, plain_l = _units(query), _units(listed)
    best = align(plain_q, plain_l)
    if not best.unmatched_query and not best.unmatched_list:
        return best  # every part met: joining parts can only lose partners

    def consider(q: tuple[Unit, ...], l_: tuple[Unit, ...]) -> None:
        # A reading with parts joined counts only where the joined parts found their partner.
        nonlocal best
        if (q, l_) == (plain_q, plain_l):
            return
        result = align(q, l_)
        joined = {"".join(u) for u in (*q, *l_) if len(u) > 1}
        if not joined & {*result.unmatched_query, *result.unmatched_list} and result.score > best.score:
            best = result

    consider(_merge_to_match(query, listed), plain_l)
    consider(plain_q, _merge_to_match(listed, query, max_span=2))
    joined_q, joined_l = _given_names_joined(query), _given_names_joined(listed)
    if costs.persons and (joined_q or joined_l):
        # Given names written in syllables on one side and as one word on the other ("Jong Un" / "Jeongeun").
        consider(joined_q or plain_q, joined_l or plain_l)
    if len(query) == 1 and len(listed) > 1:
        consider(plain_q, (listed,))  # a name written run together ("Chenquanguo", "Abdullah")
    if len(listed) == 1 and len(query) > 1:
        consider((query,), plain_l)
    return best


def _acronym_score(query: NameForm, listed: NameForm) -> NameScore | None:
    for short, long_ in ((query, listed), (listed, query)):
        if len(short.tokens) == 1 and short.tokens[0] in long_.acronyms:
            return NameScore(ACRONYM_SCORE, "acronym",
                             [PartMatch(short.tokens[0], " ".join(long_.tokens), ACRONYM_SCORE, "initials", 1.0, 1.0)],
                             base=ACRONYM_SCORE)
    return None


_PERSON_COSTS = Costs(True, OMITTED_PART_COST_PERSON)
_ORGANIZATION_COSTS = Costs(False, OMITTED_PART_COST_ORG)


def _costs(is_person: bool) -> Costs:
    return _PERSON_COSTS if is_person else _ORGANIZATION_COSTS


# The scale of reported scores. The raw score (the formula above) reaches the default threshold, 0.80, at
# RAW_AT_DEFAULT, chosen on the development data (bench/independent.py): raw scores are mapped linearly from
# [0, RAW_AT_DEFAULT] to [0, 0.80] and from [RAW_AT_DEFAULT, 1] to [0.80, 1], so that a score keeps its order and
# 0.80 keeps its meaning for clients and settings.
RAW_AT_DEFAULT = 0.6
CALIBRATED_DEFAULT = 0.80


def calibrate(raw: float) -> float:
    raw = min(1.0, max(0.0, raw))
    if raw <= RAW_AT_DEFAULT:
        return raw * CALIBRATED_DEFAULT / RAW_AT_DEFAULT
    return CALIBRATED_DEFAULT + (raw - RAW_AT_DEFAULT) * (1 - CALIBRATED_DEFAULT) / (1 - RAW_AT_DEFAULT)


def raw_score_for(score: float) -> float:
    """The raw score that calibrates to `score` (the inverse of calibrate)."""
    score = min(1.0, max(0.0, score))
    if score <= CALIBRATED_DEFAULT:
        return score * RAW_AT_DEFAULT / CALIBRATED_DEFAULT
    return RAW_AT_DEFAULT + (score - CALIBRATED_DEFAULT) * (1 - RAW_AT_DEFAULT) / (1 - CALIBRATED_DEFAULT)


def raw_scores_for(scores: np.ndarray) -> np.ndarray:
    """raw_score_for of each score, at once: the same operations in the same order, so the same floats."""
    scores = np.minimum(1.0, np.maximum(0.0, scores))
    return np.where(scores <= CALIBRATED_DEFAULT, scores * RAW_AT_DEFAULT / CALIBRATED_DEFAULT,
                    RAW_AT_DEFAULT + (scores - CALIBRATED_DEFAULT) * (1 - RAW_AT_DEFAULT) / (1 - CALIBRATED_DEFAULT))


# The least share of its weight that a part left over costs, whatever the case: the retrieval bound (index.py).
MIN_LEFTOVER_SHARE = min(OMITTED_PART_COST_PERSON, OMITTED_PART_COST_ORG, DISTINCTIVE_OMISSION_SHARE)


def _han_score(query: NameForm, listed: NameForm, weigh: Weigher, costs: Costs) -> NameScore:
    """Two names both written in Han characters: parts are the same only when their characters are (李国强 and
    李国墙 read alike and are two names); the weights are those of the readings."""
    qh, lh = query.han_tokens, listed.han_tokens

    def same_characters(i: int, j: int) -> tuple[float, str]:
        return (1.0, "same characters") if qh[i] == lh[j] else (0.0, "different characters")

    result = _align(_units(query.tokens), _units(listed.tokens), weigh, costs, similarity=same_characters)
    for part in result.parts:
        part.query = qh[query.tokens.index(part.query)] + f" ({part.query})"
        part.listed = lh[listed.tokens.index(part.listed)] + f" ({part.listed})"
    result.method = "han-characters"
    return result


def _first_given(form: NameForm) -> str | None:
    """A person's first given name: the first part that is neither the marked surname nor a particle."""
    return next((t for t in form.tokens if t != form.surname and base_weight(t) > PARTICLE_WEIGHT), None)


def _alternative_mode(form: NameForm, other: NameForm, mode: str | None) -> str | None:
    """The Japanese reading of a name in Han characters is compared as Latin with Latin (index.readings)."""
    return pair_mode("Latn", other.script) if form.script == "Hani" else mode


def score_forms(query: NameForm, listed: NameForm, *, is_person: bool, weigh: Weigher = base_weight,
                weak: bool = False) -> NameScore:
    """Score one query name against one list name."""
    costs = _costs(is_person)
    if query.han and listed.han and query.han == listed.han:
        result = NameScore(1.0, "han-exact", [PartMatch(query.han, listed.han, 1.0, "same characters", 1.0, 1.0)],
                           base=1.0)
    elif query.han and listed.han and query.han_tokens and listed.han_tokens:
        result = _han_score(query, listed, weigh, costs)
    else:
        mode = pair_mode(query.script, listed.script)
        readings = [(query.tokens, listed.tokens, mode)]
        readings += [(alt, listed.tokens, _alternative_mode(query, listed, mode)) for alt in query.alternatives]
        readings += [(query.tokens, alt, _alternative_mode(listed, query, mode)) for alt in listed.alternatives]
        if query.script != listed.script:
            # A Western name written in Han characters is read by its sound, against names that are not Chinese.
            if not looks_chinese(listed.tokens):
                readings += [(q, listed.tokens, "sounds") for q in query.sound_readings]
            if not looks_chinese(query.tokens):
                readings += [(query.tokens, alt, "sounds") for alt in listed.sound_readings]
        result = max((_token_score(q, l_, weigh, m, costs) for q, l_, m in readings), key=lambda r: r.score)
        if not is_person:
            acronym = _acronym_score(query, listed)
            if acronym is not None and acronym.score > result.score:
                result = acronym
        if is_person and result.method == "name-parts":
            for form, unmatched, side in ((listed, result.unmatched_list, "list"),
                                          (query, result.unmatched_query, "query")):
                if form.surname and form.surname in unmatched:
                    result.score *= SURNAME_MISSING_FACTOR
                    result.adjustments.append({"reason": f"{side} surname '{form.surname}' has no partner",
                                               "factor": SURNAME_MISSING_FACTOR})
            given_q, given_l = _first_given(query), _first_given(listed)
            if given_q in result.unmatched_query and given_l in result.unmatched_list:
                # Both first given names left over, each the other's replacement: a relative (Omar / Yasir
                # Sabawi Ibrahim Hasan al-Tikriti), not a spelling of one person.
                result.score *= GIVEN_NAME_FACTOR
                result.adjustments.append({"reason": f"given names '{given_q}' and '{given_l}' differ",
                                           "factor": GIVEN_NAME_FACTOR})
    if weak:
        result.score *= WEAK_ALIAS_FACTOR
        result.adjustments.append({"reason": "weak alias", "factor": WEAK_ALIAS_FACTOR})
    return result

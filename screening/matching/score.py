"""Scoring two prepared names on their parts, with an explanation of every step.

score = sum over aligned part pairs of similarity * (weight_query + weight_list) / (all query weight + all list weight)

Parts are aligned one to one in any order. Parts that were split ("Quan Guo") or run together ("Chenquanguo") are
merged before alignment. A typo costs little on a long part and much on a short one. A list name's known surname
that finds no partner costs extra for persons: a different family name is a different person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from functools import lru_cache

from rapidfuzz.distance import OSA

from .phonetic import is_pinyin, skeleton

from .text import NameForm
from .vocab import KOREAN_SURNAMES, base_weight

Weigher = Callable[[str], float]
OmissionCost = Callable[[float], float]  # weight of an omitted list part -> what it costs


def full_cost(weight: float) -> float:
    return weight

MIN_PART_SIMILARITY = 0.7  # below this two parts are not considered the same part at all
SURNAME_MISSING_FACTOR = 0.8
WEAK_ALIAS_FACTOR = 0.95
SOUNDS_ALIKE_SIMILARITY = 0.88  # transliteration variants (Mohammed / Muhammad) count as a near-exact part
ACRONYM_SCORE = 0.9
# A part of the list name that the query leaves out costs only a share of its weight: lists carry patronymics,
# middle names and second surnames that customers' records omit, and organizations' generic words ("Russian
# Airlines"). Only a pure omission is discounted: when the query also has a part the list lacks, the query names
# something else ("Gas" for "Oil"), and every part counts in full.
OMITTED_PART_COST_PERSON = 0.4  # the list name marks its surname ("SURNAME, Given"): the rest are given names
OMITTED_PART_COST_PERSON_NO_SURNAME = 0.7  # the omitted part may be the surname itself
OMITTED_PART_COST_ORG = 0.5  # for an organization's low-weight words; a distinctive word costs in full
OMITTED_NUMBER_COST = 1.5
CONTRADICTION_WEIGHT = 0.2  # unmatched query weight above which the query contradicts the list name

# Latin spellings of one Korean family name share a bit (Lee / Yi / Rhee / Ri; Park / Pak; Choi / Choe).
KOREAN_SPELLINGS: dict[str, int] = {}
for _bit, _spellings in enumerate(KOREAN_SURNAMES.values()):
    for _spelling in _spellings:
        if len(_spelling) >= 2:
            KOREAN_SPELLINGS[_spelling] = KOREAN_SPELLINGS.get(_spelling, 0) | (1 << _bit)


@lru_cache(maxsize=500_000)
def part_similarity(a: str, b: str, loose_vowels: bool = False) -> tuple[float, str]:
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
    sim = max(0.0, 1.0 - distance / length - max(0, 5 - length) * 0.1)
    how = f"{distance} edit{'s' if distance > 1 else ''}"
    if sim >= SOUNDS_ALIKE_SIMILARITY:
        return sim, how
    if KOREAN_SPELLINGS.get(a, 0) & KOREAN_SPELLINGS.get(b, 0):
        return SOUNDS_ALIKE_SIMILARITY, f"{how}, spellings of one Korean family name"
    if loose_vowels:
        # Transliterated Arabic or Hebrew lacks the vowels: the consonants are all there is to compare.
        # Hebrew vav and Arabic waw are written v / w but are often the vowel o or u (Gurion, Shimon).
        keys_a = {skeleton(a, False), skeleton(a.replace("v", ""), False)}
        keys_b = {skeleton(b, False), skeleton(b.replace("v", ""), False)}
        common = sorted((keys_a & keys_b) - {""}, key=len, reverse=True)
        if common:
            key = common[0]
            return (SOUNDS_ALIKE_SIMILARITY if len(key) >= 2 else 0.8), f"{how}, same consonants ({key})"
        return sim, how
    if sim >= 0.4 and not (is_pinyin(a) and is_pinyin(b)):
        # Two pinyin syllables that differ are two different characters (Peng / Ping): no phonetic leniency there.
        key_a, key_b = skeleton(a), skeleton(b)
        if key_a == key_b and len(key_a) >= 3:
            return SOUNDS_ALIKE_SIMILARITY, f"{how}, sounds alike ({key_a})"
    return sim, how


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
    """Join adjacent parts whose concatenation is (nearly) a part of the other name ("quan guo" -> "quanguo")."""
    if len(tokens) < 2:
        return tokens
    targets = set(other)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        for span in (3, 2):
            if i + span <= len(tokens) and tokens[i] not in targets:
                joined = "".join(tokens[i:i + span])
                if joined in targets or any(
                        len(t) >= 6 and abs(len(t) - len(joined)) <= 2 and not t.startswith(joined)
                        and part_similarity(joined, t)[0] >= 0.8 > part_similarity(tokens[i], t)[0] for t in other):
                    out.append(joined)
                    i += span
                    break
        else:
            out.append(tokens[i])
            i += 1
    return tuple(out)


def _align(query: tuple[str, ...], listed: tuple[str, ...], weigh: Weigher, loose: bool = False,
           omission_cost: OmissionCost = full_cost) -> NameScore:
    wq = [weigh(t) for t in query]
    wl = [weigh(t) for t in listed]
    pairs = []
    for i, a in enumerate(query):
        for j, b in enumerate(listed):
            sim, how = part_similarity(a, b, loose)
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
    extra_query = sum(w for i, w in enumerate(wq) if i not in used_q)
    omitted = [(listed[j], w) for j, w in enumerate(wl) if j not in used_l]
    cost = full_cost if extra_query > CONTRADICTION_WEIGHT else omission_cost
    total = sum(wq) + sum(wl) - sum(w for _, w in omitted) + sum(_omitted_cost(t, w, cost) for t, w in omitted)
    score = gained / total if total > 0 else 0.0
    return NameScore(score, "name-parts", matched,
                     [t for i, t in enumerate(query) if i not in used_q],
                     [t for j, t in enumerate(listed) if j not in used_l], base=score)


def _given_names_joined(tokens: tuple[str, ...]) -> tuple[str, ...]:
    return tokens if len(tokens) < 3 else (tokens[0], "".join(tokens[1:]))


def _token_score(query: tuple[str, ...], listed: tuple[str, ...], weigh: Weigher, loose: bool,
                 omission_cost: OmissionCost, persons: bool) -> NameScore:
    """Best alignment of two token sequences, allowing split and run-together parts."""

    def align(q: tuple[str, ...], l_: tuple[str, ...], w: Weigher = weigh) -> NameScore:
        return _align(q, l_, w, loose, omission_cost)

    candidates = [align(query, listed)]
    merged_query = _merge_to_match(query, listed)
    if merged_query != query:
        candidates.append(align(merged_query, listed))
    merged_list = _merge_to_match(listed, query)
    if merged_list != listed:
        candidates.append(align(query, merged_list))
    joined_query, joined_list = _given_names_joined(query), _given_names_joined(listed)
    if persons and (joined_query, joined_list) != (query, listed):
        # Given names written in syllables on one side and as one word on the other ("Jong Un" / "Jeongeun").
        candidates.append(align(joined_query, joined_list))
    for one, many, flip in ((query, listed, False), (listed, query, True)):
        if len(one) == 1 and len(many) > 1:
            # A name written run together ("Chenquanguo", "Abdullah"): compare with the other written the same way.
            joined = "".join(many)
            weight = sum(weigh(t) for t in many)
            weigh_joined = (lambda w, j: (lambda t: w if t == j else weigh(t)))(weight, joined)
            pair = ((joined,), one) if flip else (one, (joined,))
            candidates.append(align(pair[0], pair[1], weigh_joined))
    return max(candidates, key=lambda r: r.score)


def _acronym_score(query: NameForm, listed: NameForm) -> NameScore | None:
    for short, long_ in ((query, listed), (listed, query)):
        if len(short.tokens) == 1 and short.tokens[0] in long_.acronyms:
            return NameScore(ACRONYM_SCORE, "acronym",
                             [PartMatch(short.tokens[0], " ".join(long_.tokens), ACRONYM_SCORE, "initials", 1.0, 1.0)],
                             base=ACRONYM_SCORE)
    return None


def _omission_cost(listed: NameForm, is_person: bool) -> OmissionCost:
    if is_person:
        share = OMITTED_PART_COST_PERSON if listed.surname else OMITTED_PART_COST_PERSON_NO_SURNAME
        return lambda weight: share * weight
    return lambda weight: OMITTED_PART_COST_ORG * weight if weight < 0.7 else weight


def _omitted_cost(token: str, weight: float, cost: OmissionCost) -> float:
    # A number in a name identifies one of a series (Nord Stream 2, Unit 26165): leaving it out names another.
    return OMITTED_NUMBER_COST * weight if token.isdigit() else cost(weight)


def score_forms(query: NameForm, listed: NameForm, *, is_person: bool, weigh: Weigher = base_weight,
                weak: bool = False) -> NameScore:
    """Score one query name against one list name."""
    if query.han and listed.han and query.han == listed.han:
        result = NameScore(1.0, "han-exact", [PartMatch(query.han, listed.han, 1.0, "same characters", 1.0, 1.0)],
                           base=1.0)
    else:
        loose = query.loose_vowels or listed.loose_vowels
        readings = [(q, listed.tokens) for q in (query.tokens, *query.alternatives)]
        readings += [(query.tokens, alt) for alt in listed.alternatives]
        cost = _omission_cost(listed, is_person)
        result = max((_token_score(q, l_, weigh, loose, cost, is_person) for q, l_ in readings),
                     key=lambda r: r.score)
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
    if weak:
        result.score *= WEAK_ALIAS_FACTOR
        result.adjustments.append({"reason": "weak alias", "factor": WEAK_ALIAS_FACTOR})
    return result

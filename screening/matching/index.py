"""The matcher over a whole list: an index for candidate retrieval, scoring, and entry-level adjustments.

Retrieval does not score every name for every query: names are indexed by their parts, by character trigrams of
their parts (typos) and by Han characters; the best-sharing names are scored. Small lists are scored whole.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from .phonetic import skeleton
from .score import NameScore, score_forms
from .text import NameForm, NameType, normalize_name
from .vocab import base_weight

DEFAULT_THRESHOLD = 0.80
SCORE_ALL_BELOW = 400  # names; below this, scoring everything is cheaper than retrieval
CANDIDATES_PER_QUERY = 300
EVIDENCE_MARGIN = 0.35  # a name is scored only when partners hold (threshold - this) of the query's weight
ESTIMATE_MARGIN = 0.1  # ... and its optimistic score estimate is at least (threshold - this)
OPTIMISTIC_OMISSION_COST = 0.4  # the lowest share an omitted list part costs in the scorer
GRAM_SHARE_FOR_CREDIT = 0.5  # a part sharing this share of its trigrams with a name (2 edits, merges) counts
GRAM_CREDIT = 0.7  # ... as this times the share
NEAR_CREDIT = 0.9  # one edit away, or the same sound
CONSONANT_KEY_LENGTH = 6  # parts this long are also found by their consonants alone
PART_CREDITS_BYTES = 64 * 2**20  # query parts' credits remembered, in bytes of arrays (a few hundred bytes each)


@dataclass(frozen=True)
class NameRecord:
    entry_idx: int
    name: str
    kind: str
    form: NameForm


@dataclass
class EntryInfo:
    id: str
    type: str
    primary_name: str
    birth_dates: tuple[str, ...]
    countries: frozenset[str]


@dataclass
class EntryMatch:
    entry_id: str
    score: float
    matched_name: str
    name_score: NameScore
    adjustments: list[dict[str, Any]] = field(default_factory=list)

    def explanation(self, query: NameForm) -> dict[str, Any]:
        out = self.name_score.explanation()
        out["query_normalized"] = query.normalized
        out["matched_name"] = self.matched_name
        out["adjustments"] = out["adjustments"] + self.adjustments
        out["score"] = round(self.score, 3)
        return out


def _grams(token: str) -> set[str]:
    padded = f"^{token}$"
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


def _deletions(token: str) -> set[str]:
    """The part with one letter left out, each way (and itself): two parts one edit apart (a substitution, an
    insertion, a transposition) share one of these, so a single typo is always retrieved (SymSpell's idea)."""
    if len(token) < 4:
        return set()
    return {token} | {token[:i] + token[i + 1:] for i in range(len(token))}


def _index_keys(form: NameForm, weigh: Callable[[str], float]) -> dict[str, float]:
    """What a list name is found by, each with the share of the name's weight that the key stands for: its parts
    (t:), their trigrams (g:), their sound (s:), the part one letter short (d:), Han characters (h:), acronyms, and
    a one-word name as a possible acronym (a:)."""
    keys: dict[str, float] = {}

    def add(key: str, share: float) -> None:
        keys[key] = max(keys.get(key, 0.0), share)

    for tokens in (form.tokens, *form.alternatives):
        total = sum(max(weigh(t), 0.05) for t in tokens) or 1.0
        for token in tokens:
            share = max(weigh(token), 0.05) / total
            for key in (*_strong_keys(token), *("g:" + g for g in _grams(token))):
                add(key, share)
        # Adjacent parts joined, for queries that write as one word what the list writes apart ("Jong Un" /
        # "Jongun", "ALFA BANK" / "Alfa-Bank").
        for left, right in zip(tokens, tokens[1:]):
            share = (max(weigh(left), 0.05) + max(weigh(right), 0.05)) / total
            add("t:" + left + right, share)
    for char in form.han or "":
        add("h:" + char, 1.0)
    for acronym in form.acronyms:
        add("t:" + acronym, 1.0)
    if len(form.tokens) == 1:  # a name of one word may be the initials of a query's words (the scorer's acronym rule)
        add("a:" + form.tokens[0], 1.0)
    return keys


def _sides(left: str, right: str) -> tuple[set[str], set[str]]:
    """The trigrams of `left + right` (padded) that hold a letter of `left`, and those that hold one of `right`."""
    padded = f"^{left}{right}$"
    joint = len(left)  # padded[1:joint + 1] is `left`
    grams = [(i, padded[i:i + 3]) for i in range(len(padded) - 2)]
    return {g for i, g in grams if i <= joint}, {g for i, g in grams if i >= joint - 1}


def _joined(tokens: tuple[str, ...], i: int) -> str | tuple[str, str]:
    """How parts i and i + 1 of a query reading are looked up written as one word. When they are the whole reading:
    as a pair, whose trigram credit needs each side's own trigrams. With three parts or more: as one word, credited on
    its trigrams overall, since the scorer then also compares given names joined ("hafizmuhammad" against
    "hasanmuhammad"), which those stand for."""
    return (tokens[i], tokens[i + 1]) if len(tokens) == 2 else tokens[i] + tokens[i + 1]


def _readings(query: NameForm) -> list[tuple[str, ...]]:
    return [tokens for tokens in (query.tokens, *query.alternatives) if tokens]


def _strong_keys(token: str) -> list[str]:
    """Keys that mean a part has a partner: the same part (first), one edit away, the same sound, or for a long part
    the same consonants (two vowels changed, "Castillo" / "Costilla": trigrams miss it, the scorer does not)."""
    keys = ["t:" + token, "s:" + skeleton(token), *("d:" + v for v in _deletions(token))]
    if len(token) >= CONSONANT_KEY_LENGTH:
        keys.append("c:" + skeleton(token, False))
    return keys


def _type_allows(query_type: str, entry_type: str) -> bool:
    if query_type == "any":
        return True
    if query_type == "organization":
        return entry_type != "person"
    return entry_type == query_type


def date_agreement(query: str, listed: str) -> bool | None:
    """True when two partial dates agree at their common precision, False when they differ, None if unknown."""
    common = min(len(query), len(listed))
    if common < 4:
        return None
    return query[:common] == listed[:common]


@dataclass(frozen=True)
class PartCredit:
    """Where one query part finds partners in the list: the record ids (ascending), the part's credit for each (1
    for the same part, NEAR_CREDIT one edit away or sounding the same, else GRAM_CREDIT times the share of its
    trigrams the name holds, when at least GRAM_SHARE_FOR_CREDIT), and the share of the name's weight that the
    partner covers (times the credit)."""

    ids: np.ndarray
    credit: np.ndarray
    cover: np.ndarray


class Matcher:
    def __init__(self, entries: Iterable[dict[str, Any]]):
        self.entries: list[EntryInfo] = []
        self.records: list[NameRecord] = []
        for entry in entries:
            if entry.get("status") == "delisted":
                continue
            idx = len(self.entries)
            countries = set(entry.get("nationalities") or [])
            countries |= {a["country"] for a in entry.get("addresses") or [] if a.get("country")}
            primary = next((n["name"] for n in entry["names"] if n.get("kind") == "primary"), entry["names"][0]["name"])
            self.entries.append(EntryInfo(entry["id"], entry["type"], primary,
                                          tuple(entry.get("birth_dates") or []), frozenset(countries)))
            name_type: NameType = "person" if entry["type"] == "person" else "organization"
            seen: set[tuple[str, ...]] = set()
            for name in entry["names"]:
                form = normalize_name(name["name"], name_type)
                key = (form.tokens, form.han or "")
                if form.tokens and key not in seen:
                    seen.add(key)
                    self.records.append(NameRecord(idx, name["name"], name.get("kind", "alias"), form))
        self._weights: dict[str, float] = {}
        self._part_credits: dict[str | tuple[str, str], PartCredit] = {}  # a query-time memo (see _part_credit)
        self._part_credit_bytes = 0
        self._idf = self._frequency_factors()
        # Posting lists packed in one array (compressed sparse rows): key -> slot, and per slot a slice of record
        # ids with the share of each name's weight the key stands for. Retrieval adds them up with numpy instead of
        # looping in Python, and the whole index pickles as a handful of arrays (see screening.snapshotcache).
        slots: dict[str, int] = {}
        key_slots: list[int] = []
        record_ids: list[int] = []
        key_shares: list[float] = []
        self._name_weight = np.zeros(len(self.records), dtype=np.float32)
        self._top_share = np.zeros(len(self.records), dtype=np.float32)
        for rid, record in enumerate(self.records):
            self._name_weight[rid] = sum(max(self.weigh(t), 0.05) for t in record.form.tokens)
            keys = _index_keys(record.form, self.weigh)
            self._top_share[rid] = max(keys.values(), default=0.0)
            for key, share in keys.items():
                key_slots.append(slots.setdefault(key, len(slots)))
                record_ids.append(rid)
                key_shares.append(share)
        order = np.argsort(np.asarray(key_slots, dtype=np.int32), kind="stable")  # record ids stay ascending
        self._slots = slots
        self._offsets = np.zeros(len(slots) + 1, dtype=np.int64)
        np.cumsum(np.bincount(np.asarray(key_slots, dtype=np.int64), minlength=len(slots)), out=self._offsets[1:])
        self._posting_ids = np.asarray(record_ids, dtype=np.int32)[order]
        self._posting_shares = np.asarray(key_shares, dtype=np.float32)[order]

    def _posting(self, key: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The record ids holding this key, and the share of each one's weight it stands for (or None)."""
        slot = self._slots.get(key)
        if slot is None:
            return None
        start, end = self._offsets[slot], self._offsets[slot + 1]
        return self._posting_ids[start:end], self._posting_shares[start:end]

    def _frequency_factors(self) -> dict[str, float]:
        """Lower the weight of parts that are frequent in this list (only meaningful for larger lists)."""
        n = len(self.records)
        if n < 1000:
            return {}
        counts: dict[str, int] = defaultdict(int)
        for record in self.records:
            for token in set(record.form.tokens):
                counts[token] += 1
        factors = {}
        for token, count in counts.items():
            share = count / n
            if share > 0.001:
                factors[token] = max(0.3, 1.0 - math.log10(share * 1000) / 3)
        return factors

    def weigh(self, token: str) -> float:
        weight = self._weights.get(token)
        if weight is None:
            weight = self._weights[token] = base_weight(token) * self._idf.get(token, 1.0)
        return weight

    def candidates(self, query: NameForm, threshold: float = DEFAULT_THRESHOLD) -> list[int]:
        """Record ids worth scoring for this query at this threshold.

        Each query part finds the names holding it exactly, one edit away, sounding the same or sharing most of its
        trigrams (PartCredit). From that evidence, on both sides (how much of the query's weight and of each name's
        weight found a partner), an optimistic estimate of the score a full alignment could reach is computed for
        every name at once; names well below the threshold are not scored. Credits are at least the similarities the
        scorer will find, so the estimate errs high. The arithmetic runs over the names credited for some part (a
        name with no credit has no evidence, and its estimate is 0).
        """
        if len(self.records) <= SCORE_ALL_BELOW:
            return list(range(len(self.records)))
        readings = _readings(query)
        parts: set[str | tuple[str, str]] = {t for tokens in readings for t in tokens}
        parts |= {_joined(tokens, i) for tokens in readings for i in range(len(tokens) - 1)}
        part_credits = {part: self._part_credit(part) for part in parts}
        acronyms = [p[0] for p in (self._posting("a:" + a) for a in query.acronyms) if p is not None]
        han = [p[0] for p in (self._posting("h:" + c) for c in set(query.han or "")) if p is not None]
        found = [*acronyms, *han, *(c.ids for c in part_credits.values() if len(c.ids))]
        if not found:
            return []
        marked = np.zeros(len(self.records), dtype=bool)
        for ids in found:
            marked[ids] = True
        support = np.flatnonzero(marked)
        local = np.empty(len(self.records), dtype=np.int32)  # record id -> its position in `support`
        local[support] = np.arange(len(support), dtype=np.int32)
        size = len(support)
        dense: dict[str | tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        for part, part_credit in part_credits.items():
            credit, cover = np.zeros(size, dtype=np.float32), np.zeros(size, dtype=np.float32)
            at = local[part_credit.ids]
            credit[at], cover[at] = part_credit.credit, part_credit.cover
            dense[part] = credit, cover
        name_weight = self._name_weight[support]
        estimate = np.zeros(size, dtype=np.float32)
        for tokens in readings:
            credits, covers = [dense[t][0] for t in tokens], [dense[t][1] for t in tokens]
            # Parts written apart that the list writes as one ("e taiba" / "etayyiba", "nasr allah"): the joined
            # pair's evidence counts for both of its parts.
            for i in range(len(tokens) - 1):
                joined, joined_cover = dense[_joined(tokens, i)]
                for k in (i, i + 1):
                    credits[k] = np.maximum(credits[k], joined)
                    covers[k] = np.maximum(covers[k], joined_cover)
            weights = [max(self.weigh(token), 0.05) for token in tokens]
            query_weight = sum(weights)
            matched_query = sum((w * c for w, c in zip(weights, credits)), np.zeros(size, dtype=np.float32))
            list_cover = np.minimum(sum(covers, np.zeros(size, dtype=np.float32)), 1.0)
            matched_list = name_weight * list_cover
            unmatched_list = name_weight - matched_list
            reading = (matched_query + matched_list) / (
                query_weight + matched_list + OPTIMISTIC_OMISSION_COST * unmatched_list)
            # A name must also hold partners for enough of the query itself.
            reading[matched_query < (threshold - EVIDENCE_MARGIN) * query_weight] = 0.0
            estimate = np.maximum(estimate, reading)
        for ids in acronyms:  # "Islamic Revolutionary Guard Corps" finds a list name "IRGC"
            estimate[local[ids]] = 1.0
        for ids in han:  # Han characters in common: scored, the romanized parts decide
            estimate[local[ids]] = np.maximum(estimate[local[ids]], threshold)
        hit = np.flatnonzero(estimate >= threshold - ESTIMATE_MARGIN)
        if len(hit) > CANDIDATES_PER_QUERY:
            hit = hit[np.argpartition(estimate[hit], -CANDIDATES_PER_QUERY)[-CANDIDATES_PER_QUERY:]]
        return support[hit].tolist()

    def _part_credit(self, part: str | tuple[str, str]) -> PartCredit:
        """The part's PartCredit, remembered: customers' names repeat their parts (John, Smith, Mohammed).

        Two adjacent query parts joined, `(left, right)`, are looked up as one word; their trigram credit then needs
        GRAM_SHARE_FOR_CREDIT of the trigrams on each side of the joint, not only overall: the grams of "rodriguez"
        alone do not make a name a partner of "jamal rodriguez" written as one.
        """
        cached = self._part_credits.get(part)
        if cached is not None:
            return cached
        word = part if isinstance(part, str) else part[0] + part[1]
        ids, credit = self._gram_credit(word, None if isinstance(part, str) else _sides(part[0], part[1]))
        # Which of the name's parts shares the trigrams is not known: the largest is assumed.
        id_runs, credit_runs, cover_runs = [ids], [credit], [credit * self._top_share[ids]]
        for keys, level in ((_strong_keys(word)[1:], NEAR_CREDIT), (["t:" + word], 1.0)):
            for key in keys:
                if (posting := self._posting(key)) is not None:
                    id_runs.append(posting[0])
                    credit_runs.append(np.full(len(posting[0]), level, dtype=np.float32))
                    cover_runs.append(level * posting[1])
        if len(id_runs) > 1:  # a name found several ways keeps its best credit and its best cover
            ids, inverse = np.unique(np.concatenate(id_runs), return_inverse=True)
            credit, cover = np.zeros(len(ids), dtype=np.float32), np.zeros(len(ids), dtype=np.float32)
            np.maximum.at(credit, inverse, np.concatenate(credit_runs))
            np.maximum.at(cover, inverse, np.concatenate(cover_runs))
        else:
            cover = cover_runs[0]
        result = PartCredit(ids.astype(np.int32), credit.astype(np.float32), cover.astype(np.float32))
        size = result.ids.nbytes + result.credit.nbytes + result.cover.nbytes + 200
        if self._part_credit_bytes + size > PART_CREDITS_BYTES:
            self._part_credits.clear()
            self._part_credit_bytes = 0
        self._part_credits[part] = result
        self._part_credit_bytes += size
        return result

    def _gram_credit(self, word: str, sides: tuple[set[str], set[str]] | None) -> tuple[np.ndarray, np.ndarray]:
        """Names holding at least GRAM_SHARE_FOR_CREDIT of the word's trigrams (and of each side's, for a joined
        pair), and their credit, GRAM_CREDIT times the share held. Counted over the whole list in one pass: that
        measured faster than sorting the postings, at 18,000 names and at 220,000 alike."""
        grams = _grams(word)
        found = [(gram, posting[0]) for gram in grams if (posting := self._posting("g:" + gram)) is not None]
        if not found:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        counts = np.bincount(np.concatenate([ids for _, ids in found]), minlength=len(self.records))
        ids = np.flatnonzero(counts >= GRAM_SHARE_FOR_CREDIT * len(grams)).astype(np.int32)
        for side in sides or ():
            held = [ids_ for gram, ids_ in found if gram in side]
            if not held:
                return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
            side_counts = np.bincount(np.concatenate(held), minlength=len(self.records))
            ids = ids[side_counts[ids] >= GRAM_SHARE_FOR_CREDIT * len(side)]
        return ids, GRAM_CREDIT * (counts[ids].astype(np.float32) / len(grams))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_part_credits"], state["_part_credit_bytes"] = {}, 0  # a query-time memo, not part of the index
        return state

    def screen(self, name: str, *, type: NameType = "any", threshold: float | None = None, limit: int = 10,
               birth_date: str | None = None, country: str | None = None) -> tuple[NameForm, list[EntryMatch]]:
        """Best match per entry, scored and adjusted, at or above the threshold, best first."""
        threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        query = normalize_name(name, type)
        best: dict[int, EntryMatch] = {}
        for rid in self.candidates(query, threshold):
            record = self.records[rid]
            info = self.entries[record.entry_idx]
            if not _type_allows(type, info.type):
                continue
            result = score_forms(query, record.form, is_person=info.type == "person", weigh=self.weigh,
                                 weak=record.kind == "weak")
            current = best.get(record.entry_idx)
            if current is None or result.score > current.score:
                best[record.entry_idx] = EntryMatch(info.id, result.score, record.name, result)
        matches = []
        for entry_idx, match in best.items():
            self._adjust(match, self.entries[entry_idx], birth_date, country)
            if match.score >= threshold:
                matches.append(match)
        matches.sort(key=lambda m: (-m.score, m.entry_id))
        return query, matches[:limit]

    @staticmethod
    def _adjust(match: EntryMatch, info: EntryInfo, birth_date: str | None, country: str | None) -> None:
        """Birth date and country raise or lower a score where the entry has them."""
        if birth_date and info.birth_dates:
            agreements = [date_agreement(birth_date, d) for d in info.birth_dates]
            if any(a is True for a in agreements):
                delta = 0.05
                reason = "birth date agrees with the list"
            else:
                delta = -0.15
                reason = "birth date differs from the list's " + ", ".join(info.birth_dates)
            match.adjustments.append({"reason": reason, "delta": delta})
            match.score += delta
        if country and info.countries:
            if country.upper() in info.countries:
                delta, reason = 0.03, f"country {country.upper()} is one of the entry's"
            else:
                delta, reason = -0.08, f"country {country.upper()} is not one of " + ", ".join(sorted(info.countries))
            match.adjustments.append({"reason": reason, "delta": delta})
            match.score += delta
        match.score = round(min(1.0, max(0.0, match.score)), 3)

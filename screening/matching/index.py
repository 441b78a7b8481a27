"""The matcher over a whole list: an index for candidate retrieval, scoring, and entry-level adjustments.

Retrieval does not score every name for every query: names are indexed by their parts, by character trigrams of
their parts (typos) and by Han characters; the best-sharing names are scored. Small lists are scored whole.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from .phonetic import skeleton
from .score import NameScore, score_forms
from .text import NameForm, NameType, normalize_name
from .vocab import base_weight

DEFAULT_THRESHOLD = 0.80
SCORE_ALL_BELOW = 400  # names; below this, scoring everything is cheaper than retrieval
CANDIDATES_PER_QUERY = 300
MIN_EVIDENCE = 0.45  # share of the query's weight that must find partners before a name is scored
GRAM_SHARE_FOR_CREDIT = 0.5  # a part sharing this share of its trigrams with a name (2 edits, merges) counts
GRAM_CREDIT = 0.7  # ... as this times the share
NEAR_CREDIT = 0.9  # one edit away, or the same sound
HAN_CHAR_EVIDENCE = 0.5  # sharing Han characters: enough to be scored (the romanized parts decide the rest)


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


def _index_keys(form: NameForm) -> set[str]:
    """What a list name is found by: its parts (t:), their trigrams (g:), their sound (s:), Han characters (h:)."""
    keys: set[str] = set()
    for tokens in (form.tokens, *form.alternatives):
        for token in tokens:
            keys.add("t:" + token)
            keys.add("s:" + skeleton(token))
            keys.update("g:" + gram for gram in _grams(token))
            keys.update("d:" + variant for variant in _deletions(token))
        keys.add("g:" + "".join(tokens)[:3])  # the start of the name written run together
    keys.update("h:" + char for char in form.han or "")
    keys.update("t:" + acronym for acronym in form.acronyms)
    return keys


def _readings(query: NameForm) -> list[tuple[str, ...]]:
    return [tokens for tokens in (query.tokens, *query.alternatives) if tokens]


def _strong_keys(token: str) -> list[str]:
    """Keys that mean a part has a partner: the same part, one edit away, or the same sound."""
    return ["t:" + token, "s:" + skeleton(token), *("d:" + v for v in _deletions(token))]


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


class Matcher:
    def __init__(self, entries: Iterable[dict[str, Any]]):
        self.entries: list[EntryInfo] = []
        self.records: list[NameRecord] = []
        postings: dict[str, list[int]] = defaultdict(list)
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
                if not form.tokens or key in seen:
                    continue
                seen.add(key)
                rid = len(self.records)
                self.records.append(NameRecord(idx, name["name"], name.get("kind", "alias"), form))
                for index_key in _index_keys(form):
                    postings[index_key].append(rid)
        # Posting lists as arrays: retrieval adds them up with numpy instead of looping in Python.
        self._postings = {key: np.asarray(ids, dtype=np.int32) for key, ids in postings.items()}
        self._idf = self._frequency_factors()

    def _frequency_factors(self) -> dict[str, float]:
        """Lower the weight of parts that are frequent in this list (only meaningful for larger lists)."""
        n = len(self.records)
        if n < 1000:
            return {}
        factors = {}
        for key, ids in self._postings.items():
            if key.startswith("t:"):
                share = len(ids) / n
                if share > 0.001:
                    factors[key[2:]] = max(0.3, 1.0 - math.log10(share * 1000) / 3)
        return factors

    def weigh(self, token: str) -> float:
        return base_weight(token) * self._idf.get(token, 1.0)

    def candidates(self, query: NameForm) -> list[int]:
        """Record ids worth scoring for this query.

        Evidence first: each query part finds the names holding it exactly (full credit), one edit away or sounding
        the same (NEAR_CREDIT), or sharing most of its trigrams (partial credit). A name scores at or above any useful
        threshold only when parts carrying about two thirds of the query's weight find partners, so names with
        less than MIN_EVIDENCE of it are not scored at all. The rest are ranked by weighted shared keys.
        """
        if len(self.records) <= SCORE_ALL_BELOW:
            return list(range(len(self.records)))
        size = len(self.records)
        evidence = np.zeros(size, dtype=np.float32)
        for tokens in _readings(query):
            credits = [self._credit(token) for token in tokens]
            # Parts written apart that the list writes as one ("e taiba" / "etayyiba", "nasr allah"): the joined
            # pair's credit counts for both of its parts.
            for i in range(len(tokens) - 1):
                joined = self._credit(tokens[i] + tokens[i + 1])
                credits[i] = np.maximum(credits[i], joined)
                credits[i + 1] = np.maximum(credits[i + 1], joined)
            weights = [max(self.weigh(token), 0.05) for token in tokens]
            reading = sum((w * c for w, c in zip(weights, credits)), np.zeros(size, dtype=np.float32))
            evidence = np.maximum(evidence, reading / sum(weights))
        for acronym in query.acronyms:  # "Islamic Revolutionary Guard Corps" finds a list name "IRGC"
            if (ids := self._postings.get("t:" + acronym)) is not None:
                evidence[ids] = 1.0
        for char_ids in (self._postings.get("h:" + c) for c in set(query.han or "")):
            if char_ids is not None:
                evidence[char_ids] = np.maximum(evidence[char_ids], HAN_CHAR_EVIDENCE)
        hit = np.flatnonzero(evidence >= MIN_EVIDENCE)
        if len(hit) > CANDIDATES_PER_QUERY:
            hit = hit[np.argpartition(evidence[hit], -CANDIDATES_PER_QUERY)[-CANDIDATES_PER_QUERY:]]
        return hit.tolist()

    def _credit(self, token: str) -> np.ndarray:
        """Per name: 1 where the part has a partner (same, one edit, same sound), else its trigram share when
        that is at least GRAM_SHARE_FOR_CREDIT (two edits on a long part, a part split in two)."""
        size = len(self.records)
        grams = ["g:" + g for g in _grams(token)]
        gram_ids = [self._postings[k] for k in grams if k in self._postings]
        credit = np.zeros(size, dtype=np.float32)
        if gram_ids:
            share = np.bincount(np.concatenate(gram_ids), minlength=size).astype(np.float32) / len(grams)
            credit = np.where(share >= GRAM_SHARE_FOR_CREDIT, GRAM_CREDIT * share, 0.0).astype(np.float32)
        # Graded, so that ranking prefers the stronger evidence: the same part, then one edit or the same sound.
        near = [self._postings[k] for k in _strong_keys(token)[1:] if k in self._postings]
        if near:
            credit[np.concatenate(near)] = NEAR_CREDIT
        if (exact := self._postings.get("t:" + token)) is not None:
            credit[exact] = 1.0
        return credit

    def screen(self, name: str, *, type: NameType = "any", threshold: float | None = None, limit: int = 10,
               birth_date: str | None = None, country: str | None = None) -> tuple[NameForm, list[EntryMatch]]:
        """Best match per entry, scored and adjusted, at or above the threshold, best first."""
        threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        query = normalize_name(name, type)
        best: dict[int, EntryMatch] = {}
        for rid in self.candidates(query):
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

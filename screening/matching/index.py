"""The matcher over a whole list: an index for candidate retrieval, scoring, and entry-level adjustments.

Retrieval does not score every name for every query: names are indexed by their parts, by character trigrams of
their parts (typos) and by Han characters; the best-sharing names are scored. Small lists are scored whole.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

from .score import NameScore, score_forms
from .text import NameForm, NameType, normalize_name
from .vocab import base_weight

DEFAULT_THRESHOLD = 0.80
SCORE_ALL_BELOW = 400  # names; below this, scoring everything is cheaper than retrieval
CANDIDATES_PER_QUERY = 150


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
        self._token_index: dict[str, list[int]] = defaultdict(list)
        self._gram_index: dict[str, list[int]] = defaultdict(list)
        self._han_index: dict[str, list[int]] = defaultdict(list)
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
                self._add(NameRecord(idx, name["name"], name.get("kind", "alias"), form))
        self._idf = self._frequency_factors()

    def _add(self, record: NameRecord) -> None:
        rid = len(self.records)
        self.records.append(record)
        for token in set(record.form.tokens):
            self._token_index[token].append(rid)
            for gram in _grams(token):
                self._gram_index[gram].append(rid)
        for char in set(record.form.han or ""):
            self._han_index[char].append(rid)

    def _frequency_factors(self) -> dict[str, float]:
        """Lower the weight of parts that are frequent in this list (only meaningful for larger lists)."""
        n = len(self.records)
        if n < 1000:
            return {}
        factors = {}
        for token, rids in self._token_index.items():
            share = len(rids) / n
            if share > 0.001:
                factors[token] = max(0.3, 1.0 - math.log10(share * 1000) / 3)
        return factors

    def weigh(self, token: str) -> float:
        return base_weight(token) * self._idf.get(token, 1.0)

    def candidates(self, query: NameForm) -> list[int]:
        """Record ids worth scoring for this query."""
        if len(self.records) <= SCORE_ALL_BELOW:
            return list(range(len(self.records)))
        hits: Counter[int] = Counter()
        for token in set(query.tokens):
            weight = self.weigh(token)
            for rid in self._token_index.get(token, ()):
                hits[rid] += 10 * weight
            grams = _grams(token)
            for gram in grams:
                for rid in self._gram_index.get(gram, ()):
                    hits[rid] += weight / len(grams)
        if len(query.tokens) == 1:
            for gram in _grams(query.tokens[0]):
                pass  # a run-together name shares trigrams with each of the list's parts, counted above
        for char in set(query.han or ""):
            for rid in self._han_index.get(char, ()):
                hits[rid] += 1
        return [rid for rid, _ in hits.most_common(CANDIDATES_PER_QUERY)]

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

"""The matcher over a whole list: candidate retrieval with a true upper bound, scoring, entry-level adjustments.

Retrieval never loses a match. Each query part (and adjacent parts written as one) finds in the list's vocabulary
every part it could be aligned with and the similarity it would get (vocabulary.py: exact, not estimated). From
that, for every list name at once (numpy), an upper bound of the score the scorer can give it (retrieval_bound);
names are scored best bound first, and scoring stops when the next bound cannot reach the threshold, or cannot
beat the `limit`-th best result found. Lists under SCORE_ALL_BELOW names are scored whole.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, NamedTuple

import numpy as np

from .bound import Bound, ListArrays, Reading, UnitCredit, bounds
from .score import ACRONYM_SCORE, NameScore, calibrate, raw_score_for, raw_scores_for, score_forms
from .text import CROSS_SCRIPT_MODE, NameForm, NameType, normalize_name
from .vocab import base_weight
from .vocabulary import Vocabulary

DEFAULT_THRESHOLD = 0.80
SCORE_ALL_BELOW = 400  # names; below this, scoring everything is cheaper than retrieval
CREDIT_MEMO_BYTES = 64 * 2**20  # query units' credits remembered, in bytes of arrays (a few hundred bytes each)
RELATED_MEMO_SIZE = 50_000  # query units whose related vocabulary is remembered
MAX_BONUS = {"birth_date": 0.05, "country": 0.03}  # the most an adjustment can add (Matcher._adjust)
BIRTH_DATE_DIFFERS, COUNTRY_DIFFERS = -0.15, -0.08  # what _adjust takes off when the entry's differ
COUNTRY_MASKS_KEPT = 300  # countries whose entries are remembered (a bulk file's country column may hold anything)


class ScreenQuery(NamedTuple):
    """A name to screen, with what else the screening weighs."""

    name: str
    type: NameType = "any"
    birth_date: str | None = None
    country: str | None = None


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
    same_legal_form: bool = False

    def explanation(self, query: NameForm) -> dict[str, Any]:
        out = self.name_score.explanation()
        out["query_normalized"] = query.normalized
        out["matched_name"] = self.matched_name
        out["name_score"] = round(calibrate(self.name_score.score), 3)
        out["adjustments"] = out["adjustments"] + self.adjustments
        out["score"] = round(self.score, 3)
        return out

    def rank_key(self) -> tuple[float, bool, bool, str]:
        """Best first; among equal scores the name with the same order and legal form as the query."""
        return (-self.score, not self.name_score.same_order, not self.same_legal_form, self.entry_id)


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


def _group(script: str) -> str:
    """The vocabulary group of a reading's script: scripts compared with Latin as Latin are one group."""
    return script if script in CROSS_SCRIPT_MODE else "plain"


def readings(form: NameForm) -> list[tuple[tuple[str, ...], str]]:
    """Every reading the scorer may compare, with its vocabulary group: the tokens, the alternatives, a Western
    name's sound in Han characters, and the characters of a Han name."""
    group = _group(form.script)
    out = [(form.tokens, group)] if form.tokens else []
    # The Japanese reading of a Han name is Latin (score._alternative_mode); Korean surname spellings stay Hangul.
    out += [(tokens, "plain" if form.script == "Hani" else group) for tokens in form.alternatives if tokens]
    out += [(tokens, "sounds") for tokens in form.sound_readings]
    if form.han and form.han_tokens and len(form.han_tokens) == len(form.tokens):
        out.append((form.han_tokens, "han"))
    return out


# What a unit is, as a bit: a part (PART), adjacent parts joined to meet a part of the other name (PAIR: two of a
# list name's, up to three of a query's), a person's two given names joined (GIVEN), the whole name run together
# (WHOLE), and the only part of a one-part name (ALONE). The scorer aligns only some kinds with each other
# (score._token_score); a query unit of one kind meets list units of the kinds in MEETS.
PART, PAIR, GIVEN, WHOLE, ALONE = 1, 2, 4, 8, 16
MEETS = {PART: PART | GIVEN | ALONE, PAIR: 0, GIVEN: GIVEN | PART | ALONE, WHOLE: ALONE,
         ALONE: PART | GIVEN | WHOLE | ALONE}
# ... and where parts are joined to meet a single part (score._merge_to_match), only if they are the same or of a
# length within two letters, six letters or more.
MERGES = {PART: PAIR, PAIR: PART | ALONE, GIVEN: 0, WHOLE: 0, ALONE: PAIR}


def _kinds_met(kind: int, query_unit: str, list_unit: str) -> int:
    """The kinds of list unit a query unit of this kind may be aligned with, when their texts are these."""
    single, joined = (list_unit, query_unit) if kind == PAIR else (query_unit, list_unit)
    mergeable = single == joined or (len(single) >= 6 and abs(len(single) - len(joined)) <= 2)
    return MEETS[kind] | (MERGES[kind] if mergeable else 0)


def units(tokens: tuple[str, ...], query: bool, group: str, person: bool = True) -> list[tuple[int, int, int]]:
    """The spans of a reading the scorer may align as one unit, with their kind. Han characters are aligned one by
    one (score._han_score)."""
    n = len(tokens)
    spans = [(i, i + 1, ALONE if n == 1 else PART) for i in range(n)]
    if group == "han":
        return spans
    for width in (2, 3) if query else (2,):
        spans += [(i, i + width, PAIR) for i in range(n - width + 1)]
    if n == 3 and person:
        spans.append((1, 3, GIVEN))
    if n >= 2:
        spans.append((0, n, WHOLE))
    return spans


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
            # A vessel's or aircraft's name is written as a query of type "any" would be: EP-LDA is a registration,
            # not a company EP with the legal form Lda.
            name_type: NameType = {"person": "person", "organization": "organization"}.get(entry["type"], "any")
            seen: set[tuple[str, ...]] = set()
            for name in entry["names"]:
                form = normalize_name(name["name"], name_type)
                key = (form.tokens, form.han or "")
                if form.tokens and key not in seen:
                    seen.add(key)
                    self.records.append(NameRecord(idx, name["name"], name.get("kind", "alias"), form))
        self._weights: dict[str, float] = {}
        self._idf = self._frequency_factors()
        self._credit_memo: dict[tuple[str, str, int], UnitCredit] = {}
        self._credit_memo_bytes = 0
        self._related_memo: dict[tuple[str, str, bool, bool], list[tuple[int, float, float]]] = {}
        self._country_masks: dict[str, np.ndarray] = {}
        self._build_index()

    def _build_index(self) -> None:
        """The vocabulary, and per unit the list names holding it with its weight there (compressed sparse rows)."""
        count = len(self.records)
        self.vocabulary = Vocabulary()
        vids: list[int] = []
        rids: list[int] = []
        weights: list[float] = []
        kinds: list[int] = []
        self._w_min = np.zeros(count, dtype=np.float32)  # the lightest reading's weight (distinct parts)
        self._w_max = np.zeros(count, dtype=np.float32)
        self._top_part = np.zeros(count, dtype=np.float32)  # the heaviest part (what a query initial may meet)
        self._person = np.zeros(count, dtype=bool)
        self._acronyms: dict[str, list[int]] = defaultdict(list)
        self._one_word: dict[str, list[int]] = defaultdict(list)
        self._han: dict[str, list[int]] = defaultdict(list)
        for rid, record in enumerate(self.records):
            form = record.form
            self._person[rid] = self.entries[record.entry_idx].type == "person"
            totals = []
            for tokens, group in readings(form):
                token_weights = self._reading_weights(form, tokens, group)
                totals.append(sum(dict(zip(tokens, token_weights)).values()))
                self._top_part[rid] = max(self._top_part[rid], max(token_weights))
                for start, end, kind in units(tokens, False, group, bool(self._person[rid])):
                    vids.append(self.vocabulary.add("".join(tokens[start:end]), group, end - start > 1))
                    rids.append(rid)
                    weights.append(sum(token_weights[start:end]))
                    kinds.append(kind)
            self._w_min[rid], self._w_max[rid] = min(totals), max(totals)
            for acronym in form.acronyms:
                self._acronyms[acronym].append(rid)
            if len(form.tokens) == 1:
                self._one_word[form.tokens[0]].append(rid)
            if form.han:
                self._han[form.han].append(rid)
        self.vocabulary.freeze()
        order = np.lexsort((np.asarray(rids, dtype=np.int32), np.asarray(vids, dtype=np.int32)))
        vid_array = np.asarray(vids, dtype=np.int64)[order]
        self._offsets = np.zeros(len(self.vocabulary) + 1, dtype=np.int64)
        np.cumsum(np.bincount(vid_array, minlength=len(self.vocabulary)), out=self._offsets[1:])
        self._posting_rids = np.asarray(rids, dtype=np.int32)[order]
        self._posting_weights = np.asarray(weights, dtype=np.float32)[order]
        self._posting_kinds = np.asarray(kinds, dtype=np.uint8)[order]
        self._acronyms, self._one_word, self._han = dict(self._acronyms), dict(self._one_word), dict(self._han)
        self._record_entry = np.asarray([r.entry_idx for r in self.records], dtype=np.int32)
        self._entry_has_birth_dates = np.asarray([bool(e.birth_dates) for e in self.entries], dtype=bool)
        self._entry_has_countries = np.asarray([bool(e.countries) for e in self.entries], dtype=bool)

    def _reading_weights(self, form: NameForm, tokens: tuple[str, ...], group: str) -> list[float]:
        # A Han name's characters weigh what their readings weigh (score._han_score aligns the readings).
        return [self.weigh(t) for t in (form.tokens if group == "han" else tokens)]

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

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        # Query-time memos, not part of the index.
        state["_credit_memo"], state["_credit_memo_bytes"], state["_related_memo"] = {}, 0, {}
        state["_country_masks"] = {}
        return state

    def _unit_credit(self, text: str, group: str, kind: int) -> UnitCredit:
        """Remembered (customers' names repeat their parts): see _credit."""
        key = (text, group, kind)
        found = self._credit_memo.get(key)
        if found is None:
            if self._credit_memo_bytes > CREDIT_MEMO_BYTES:
                self._credit_memo.clear()
                self._credit_memo_bytes = 0
            found = self._credit_memo[key] = self._credit(text, group, kind)
            self._credit_memo_bytes += sum(a.nbytes for a in found) + 200
        return found

    def _related(self, text: str, group: str, joined: bool, joins: bool) -> list[tuple[int, float, float]]:
        """Vocabulary.related, remembered: one text is looked up as several kinds of unit."""
        key = (text, group, joined, joins)
        found = self._related_memo.get(key)
        if found is None:
            if joins:
                # The list's joined units on top of the answer without them, which is remembered too: a query
                # unit is often looked up both ways (a family name with the part before it, as two kinds of unit).
                parts = self._related(text, group, joined, False)
                found = parts + self.vocabulary.related_joins(text, group, joined, parts)
            else:
                found = self.vocabulary.related_parts(text, group, joined)
            if len(self._related_memo) >= RELATED_MEMO_SIZE:
                self._related_memo.clear()
            self._related_memo[key] = found
        return found

    def _credit(self, text: str, group: str, kind: int) -> UnitCredit:
        """The list names where a query unit finds a partner of a kind it may be aligned with: their ids (once
        each, ascending), the best similarity there, the heaviest partner's weight, and how many partners."""
        joins = bool((MEETS[kind] | MERGES[kind]) & (PAIR | GIVEN | WHOLE))
        related = self._related(text, group, kind not in (PART, ALONE), joins)
        if not related:
            empty = np.zeros(0, dtype=np.float32)
            return UnitCredit(np.zeros(0, dtype=np.int32), empty, empty, np.zeros(0, dtype=np.int32))
        texts = self.vocabulary.texts
        spans = [(self._offsets[v], self._offsets[v + 1]) for v, _, _ in related]
        lengths = [b - a for a, b in spans]
        masks = [_kinds_met(kind, text, texts[v]) for v, _, _ in related]
        ids = np.concatenate([self._posting_rids[a:b] for a, b in spans])
        heavy = np.concatenate([self._posting_weights[a:b] for a, b in spans])
        organization = np.repeat(np.asarray([r[1] for r in related], dtype=np.float32), lengths)
        person = np.repeat(np.asarray([r[2] for r in related], dtype=np.float32), lengths)
        sims = np.where(self._person[ids], person, organization)
        meets = np.repeat(np.asarray(masks, dtype=np.uint8), lengths)
        allowed = ((np.concatenate([self._posting_kinds[a:b] for a, b in spans]) & meets) > 0) & (sims > 0)
        ids, sims, heavy = ids[allowed], sims[allowed], heavy[allowed]
        if len(related) == 1:  # one vocabulary unit: each name once already
            return UnitCredit(ids, sims, heavy, np.ones(len(ids), dtype=np.int32))
        unique, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
        best_sim = np.zeros(len(unique), dtype=np.float32)
        best_weight = np.zeros(len(unique), dtype=np.float32)
        np.maximum.at(best_sim, inverse, sims)
        np.maximum.at(best_weight, inverse, heavy)
        return UnitCredit(unique.astype(np.int32), best_sim, best_weight, counts.astype(np.int32))

    def retrieval_bound(self, query: NameForm) -> tuple[np.ndarray, np.ndarray]:
        """List names that could score anything for this query, and an upper bound of each one's raw score.

        For a reading of the query with parts of weight w_k, a name gets credit c_k for part k: the best similarity
        of k (or of a unit of joined parts holding k) with any of its units. With A = sum c_k w_k and B = sum w_k over
        credited parts, U the uncredited query weight, X at most the weight of the name's units the query's units
        can meet and W its (lightest reading's) weight, the scorer's score is at most
            (A + X) / (B + X + m * U + m * (W - X))
        where m is the least share a part left over costs (score.MIN_LEFTOVER_SHARE; all of it when U + W - X
        outweighs what can agree, score.OMISSION_LIMIT): every credited part aligned at its credit is the best
        case, since a credit is at least 0.7 and an aligned part costs no more than (1 - m) of its weight. When
        both U and W - X exceed score.CONTRADICTION_WEIGHT, the names contradict each
        other whatever the alignment: each part left over costs at least SUBSTITUTION_COST (or its weight), and a
        person's score is multiplied by PERSON_SUBSTITUTION_FACTOR. Acronyms and identical Han names are bounded
        by what the scorer gives them.
        """
        return self.retrieval_bounds([query])[0]

    def retrieval_bounds(self, queries: list[NameForm]) -> list[Bound]:
        """retrieval_bound of each query, computed for all of them at once (bound.py)."""
        found: list[Reading] = []
        forced: list[dict[int, float]] = []
        for q, query in enumerate(queries):
            for tokens, group in readings(query):
                met = []
                for start, end, kind in units(tokens, True, group):
                    if end - start == 1 and len(tokens[start]) == 1 and group != "han":
                        continue  # an initial: assumed to meet every name (bound.py), never a reason to score one
                    credit = self._unit_credit("".join(tokens[start:end]), group, kind)
                    if len(credit.ids):
                        met.append((start, end, credit))
                found.append(Reading(q, tokens, group, self._reading_weights(query, tokens, group), met))
            scores = dict.fromkeys(self._han.get(query.han or "", ()), 1.0)
            if len(query.tokens) == 1:
                for rid in self._acronyms.get(query.tokens[0], ()):
                    scores[rid] = max(scores.get(rid, 0.0), ACRONYM_SCORE)
            for acronym in query.acronyms:
                for rid in self._one_word.get(acronym, ()):
                    scores[rid] = max(scores.get(rid, 0.0), ACRONYM_SCORE)
            forced.append(scores)
        return bounds(len(queries), found, forced, ListArrays(self._top_part, self._w_min, self._w_max, self._person))

    def candidates(self, query: NameForm, threshold: float = DEFAULT_THRESHOLD) -> list[int]:
        """Record ids that could reach this (calibrated) threshold, best bound first."""
        if len(self.records) <= SCORE_ALL_BELOW:
            return list(range(len(self.records)))
        support, bound = self.retrieval_bound(query)
        keep = bound >= raw_score_for(threshold) - 1e-6
        order = np.argsort(-bound[keep], kind="stable")
        return support[keep][order].tolist()

    def screen(self, name: str, *, type: NameType = "any", threshold: float | None = None, limit: int = 10,
               birth_date: str | None = None, country: str | None = None) -> tuple[NameForm, list[EntryMatch]]:
        """Best match per entry, scored and adjusted, at or above the threshold, best first (at most `limit`)."""
        return self.screen_many([ScreenQuery(name, type, birth_date, country)], threshold=threshold, limit=limit)[0]

    def screen_many(self, queries: list[ScreenQuery], *, threshold: float | None = None,
                    limit: int = 10) -> list[tuple[NameForm, list[EntryMatch]]]:
        """`screen` for each query, the same answers, with their retrieval bounds computed together (bound.py): a
        bulk file's or a monitoring run's names a chunk at a time."""
        threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        forms = [self._query_form(q.name, q.type) for q in queries]
        if len(self.records) <= SCORE_ALL_BELOW:  # every name, each bounded by 1 (in list order)
            everything = np.arange(len(self.records), dtype=np.int32)
            found = [(everything, np.ones(len(everything), dtype=np.float32))] * len(queries)
        else:
            found = self.retrieval_bounds([form for form, _ in forms])
        return [(form, self._best_matches(form, kind, threshold, limit, q.birth_date, q.country, support, bound))
                for q, (form, kind), (support, bound) in zip(queries, forms, found)]

    @staticmethod
    def _query_form(name: str, type: NameType) -> tuple[NameForm, NameType]:
        query = normalize_name(name, type)
        if type == "any" and (as_organization := normalize_name(name, "organization")).legal_form:
            # A name with a legal form (Co., Ltd., LLC, GmbH) is not a person's: it is compared as the list's
            # organization names are written (JOINT-STOCK COMPANY ..., BIO-TECH).
            return as_organization, "organization"
        return query, type

    def _best_matches(self, query: NameForm, type: NameType, threshold: float, limit: int, birth_date: str | None,
                      country: str | None, support: np.ndarray, bound: np.ndarray) -> list[EntryMatch]:
        """The query's names scored best bound first, while a bound can still reach the threshold and the limit."""
        bonus = (MAX_BONUS["birth_date"] if birth_date else 0.0) + (MAX_BONUS["country"] if country else 0.0)
        if bonus:
            keep = bound >= self._raw_bars(support, threshold, birth_date, country) - 1e-6
        else:
            keep = bound >= raw_score_for(max(0.0, threshold - 0.0005)) - 1e-6
        if type != "any":  # _type_allows, for every name at once
            keep &= self._person[support] == (type == "person")
        order = np.argsort(-bound[keep], kind="stable")
        ordered = list(zip(support[keep][order].tolist(), bound[keep][order].tolist()))
        best: dict[int, EntryMatch] = {}
        limit_score = -1.0  # the limit-th best score at or above the threshold so far (-1 while fewer)
        for rid, upper in ordered:
            # Reported scores are rounded to three decimals: a name may gain half a thousandth from it.
            if calibrate(upper) + bonus + 0.0005 < limit_score:
                break  # no name left can beat the limit-th result (ties are still scored, for their order)
            record = self.records[rid]
            info = self.entries[record.entry_idx]
            if not _type_allows(type, info.type):
                continue
            result = score_forms(query, record.form, is_person=info.type == "person", weigh=self.weigh,
                                 weak=record.kind == "weak")
            match = EntryMatch(info.id, calibrate(result.score), record.name, result,
                               same_legal_form=record.form.legal_form == query.legal_form)
            self._adjust(match, info, birth_date, country)
            current = best.get(record.entry_idx)
            if current is None or match.rank_key() < current.rank_key():
                best[record.entry_idx] = match
                if match.score >= max(threshold, limit_score):
                    top = heapq.nlargest(limit, (m.score for m in best.values() if m.score >= threshold))
                    limit_score = top[-1] if len(top) >= limit else -1.0
        matches = sorted((m for m in best.values() if m.score >= threshold), key=EntryMatch.rank_key)
        return matches[:limit]

    def _in_country(self, country: str) -> np.ndarray:
        """Per entry: does _adjust find this country among its own."""
        key = country.upper()
        mask = self._country_masks.get(key)
        if mask is None:
            if len(self._country_masks) >= COUNTRY_MASKS_KEPT:
                self._country_masks.clear()
            mask = self._country_masks[key] = np.fromiter((key in e.countries for e in self.entries), dtype=bool,
                                                          count=len(self.entries))
        return mask

    def _raw_bars(self, support: np.ndarray, threshold: float, birth_date: str | None,
                  country: str | None) -> np.ndarray:
        """Per name, the raw score it needs to reach the threshold with the most its entry's adjustments can add:
        an entry without birth dates or countries adds nothing, one whose countries lack the query's takes
        0.08 off (_adjust). Names the query's country cannot lift are not scored for its bonus."""
        entry = self._record_entry[support]
        added = np.zeros(len(support), dtype=np.float64)
        if birth_date:
            added += np.where(self._entry_has_birth_dates[entry], MAX_BONUS["birth_date"], 0.0)
        if country:
            added += np.where(self._in_country(country)[entry], MAX_BONUS["country"],
                              np.where(self._entry_has_countries[entry], COUNTRY_DIFFERS, 0.0))
        # (Half a thousandth: reported scores are rounded to three decimals.)
        return raw_scores_for(threshold - added - 0.0005)

    @staticmethod
    def _adjust(match: EntryMatch, info: EntryInfo, birth_date: str | None, country: str | None) -> None:
        """Birth date and country raise or lower a score where the entry has them."""
        if birth_date and info.birth_dates:
            agreements = [date_agreement(birth_date, d) for d in info.birth_dates]
            if any(a is True for a in agreements):
                delta = MAX_BONUS["birth_date"]
                reason = "birth date agrees with the list"
            else:
                delta = BIRTH_DATE_DIFFERS
                reason = "birth date differs from the list's " + ", ".join(info.birth_dates)
            match.adjustments.append({"reason": reason, "delta": delta})
            match.score += delta
        if country and info.countries:
            if country.upper() in info.countries:
                delta, reason = MAX_BONUS["country"], f"country {country.upper()} is one of the entry's"
            else:
                delta, reason = COUNTRY_DIFFERS, f"country {country.upper()} is not one of " + ", ".join(sorted(info.countries))
            match.adjustments.append({"reason": reason, "delta": delta})
            match.score += delta
        match.score = round(min(1.0, max(0.0, match.score)), 3)

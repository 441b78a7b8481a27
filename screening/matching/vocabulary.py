"""The distinct parts of a list's names (its vocabulary), and for a query's part every vocabulary part it could be
scored against, with the similarity it would get.

parts.part_similarity admits a pair of parts by a fixed set of rules; each rule has a lookup here that finds a
superset of the parts it admits, and the similarity is then computed exactly. So the credit a query part gets
for a list name is the best similarity the scorer could give it there, never an estimate (index.py builds its
upper bound of a name's score on it):

- one edit: for parts of five letters or more, one edit leaves at least half of the letter pairs in place, so the
  pair lookup below finds them; for shorter parts, a map of each part with one letter left out (SymSpell's idea);
- two edits or more: the scorer admits them only where half of the query part's letter pairs stay in place, which
  the pair lookup finds exactly (a name holding none of the query part's rarest pairs cannot hold half of them);
  parts joined into one unit, 12 letters or more, only within MERGED_EDITS edits, which one whole segment of
  the unit betrays (pigeonhole: PairIndex._close_spelled);
- plural and stem, nickname, Korean surname spellings, the same sound or consonants, initials: maps by key;
- cross-script (a part written in another script): maps of the consonant keys of each mode, one edit apart by the
  same left-out-letter maps, built the first time a query needs the mode.
"""

from __future__ import annotations

import math
import threading
import zlib
from collections import defaultdict
from typing import Iterable

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from .nicknames import related_names
from .phonetic import cross_script_keys, skeleton
from .parts import (KEY_EDIT_MIN, KOREAN_SPELLINGS, MIN_MERGED_SIMILARITY, MIN_PART_SIMILARITY, STEM_PREFIX,
                    _singular, bigrams, pair_mode, part_similarity)

SHORT_PART = 4  # parts this long or shorter are found one edit away by the left-out-letter map
# Edits per letter of a joined query unit that an edit similarity of MIN_MERGED_SIMILARITY allows: d <= 0.15 *
# (len + d), d <= 0.15 / 0.85 * len.
MERGED_EDITS = (1 - MIN_MERGED_SIMILARITY) / MIN_MERGED_SIMILARITY
# Joined parts up to this long meet a list unit by spelling only one edit away: at MIN_MERGED_SIMILARITY two edits
# need 2 / 0.15 = 13.3 letters or more, which a unit of 11 +/- 1 letters never has. They are found by their
# one-letter deletions (as short parts are), a few dictionary-like lookups instead of counting letter pairs.
NEAR_MERGED_MAX = math.floor(2 / (1 - MIN_MERGED_SIMILARITY) - 1e-9) - 2
_EMPTY = np.zeros(0, dtype=np.int32)
# Spelling alone admits a unit only at an edit similarity of MIN_PART_SIMILARITY (two thirds for three letters one
# edit apart, which the scorer lifts to it; the short-part surcharge only lowers it): the first cut, in C.
RELATED_CUT = min(MIN_PART_SIMILARITY, 2 / 3) - 1e-6
# Joined units this long are looked up by segments (PairIndex._close_spelled), which meet the units of these lengths.
SEGMENT_TEXT = (NEAR_MERGED_MAX + 1, 40)
SEGMENT_UNITS = (SEGMENT_TEXT[0] - int(MERGED_EDITS * SEGMENT_TEXT[0]),
                 SEGMENT_TEXT[1] + int(MERGED_EDITS * SEGMENT_TEXT[1]))


def distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted: np.unique's answer, from a sort (numpy 2 finds them through a hash table first,
    ten to twenty times slower on these arrays of ids)."""
    values = np.sort(values)
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if len(values) else values


def _deletions(text: str) -> set[str]:
    return {text} | {text[:i] + text[i + 1:] for i in range(len(text))}


class KeyIndex:
    """Keys to units, compact: a sorted array of the keys' CRC-32 and the units beside it. Two keys may share a
    checksum; the similarity computed afterwards tells their units apart."""

    def __init__(self, entries: list[tuple[str, int]]) -> None:
        hashes = np.asarray([zlib.crc32(key.encode()) for key, _ in entries], dtype=np.uint32)
        order = np.argsort(hashes, kind="stable")
        self.hashes = hashes[order]
        self.vids = np.asarray([vid for _, vid in entries], dtype=np.int32)[order]

    def get(self, key: str) -> list[int]:
        value = zlib.crc32(key.encode())
        lo, hi = np.searchsorted(self.hashes, value, "left"), np.searchsorted(self.hashes, value, "right")
        return self.vids[lo:hi].tolist()

    def get_many(self, keys: Iterable[str]) -> list[int]:
        """The units of any of these keys (one search for all of them)."""
        values = np.asarray([zlib.crc32(key.encode()) for key in keys], dtype=np.uint32)
        starts = np.searchsorted(self.hashes, values, "left").tolist()
        ends = np.searchsorted(self.hashes, values, "right").tolist()
        return [vid for a, b in zip(starts, ends) if b > a for vid in self.vids[a:b].tolist()]


class PairIndex:
    """Units by the letter pairs (padded) they hold. The units are ranked by length, so that the lengths a lookup
    can meet are one range of ranks: each pair's units are kept in rank order, in one sorted array of (pair, rank)
    keys searched for all of a text's pairs at once, and the units found are counted over that range only. Long
    joined units, which must agree more closely, are looked up by their pieces of three letters instead (a common
    letter pair is held by thousands of units of those lengths, a piece in its place by few)."""

    def __init__(self, texts: list[str], vids: list[int]) -> None:
        ranked = sorted(vids, key=lambda v: len(texts[v]))
        self.by_rank = np.asarray(ranked, dtype=np.int32)
        self.rank_texts = [texts[v] for v in ranked]
        self.rank_lengths = np.asarray([len(texts[v]) for v in ranked], dtype=np.int64)
        self.ids: dict[str, int] = {}
        slots: list[int] = []
        ranks: list[int] = []
        for rank, vid in enumerate(ranked):
            for gram in bigrams(texts[vid]):
                slots.append(self.ids.setdefault(gram, len(self.ids)))
                ranks.append(rank)
        self.stride = len(ranked) + 1
        self.keys = np.sort(np.asarray(slots, dtype=np.int64) * self.stride + np.asarray(ranks, dtype=np.int64))
        self._index_segments(texts, ranked)

    def _index_segments(self, texts: list[str], ranked: list[int]) -> None:
        """The three-letter pieces of every unit a long joined unit may meet (see `_close_spelled`), each with where
        it stands and the unit's length: one sorted array of (piece, position, length, unit) keys."""
        assert len(texts) < 1 << 24, "a unit id takes 24 bits of a segment key"
        self.piece_ids: dict[str, int] = {}
        keys = []
        for vid in ranked:
            text = texts[vid]
            if SEGMENT_UNITS[0] <= len(text) <= SEGMENT_UNITS[1]:
                for at in range(len(text) - 2):
                    piece = self.piece_ids.setdefault(text[at:at + 3], len(self.piece_ids))
                    keys.append((((piece << 6) | at) << 6 | len(text)) << 24 | vid)
        self.piece_keys = np.sort(np.asarray(keys, dtype=np.int64))
        pieces = self.piece_keys >> 36
        self.piece_counts = np.bincount(pieces, minlength=len(self.piece_ids)).tolist()

    def _close_spelled(self, text: str) -> np.ndarray:
        """Units a joined unit of SEGMENT_TEXT letters may meet by spelling: within `MERGED_EDITS` edits (OSA) of
        it, or more (the edit similarity checked next decides). Cut the text into edits + 1 segments with a letter
        between each two: an edit (a transposition too) touches one segment at most, so one is left whole, and a
        unit that close holds it, moved by as many places as letters were added or dropped before it, at most
        the edits. From each segment the piece of three letters fewest units hold is looked up."""
        edits = int(MERGED_EDITS * len(text))
        segments = edits + 1
        letters = len(text) - edits
        counts, ids = self.piece_counts, self.piece_ids
        lows: list[int] = []
        highs: list[int] = []
        start = 0
        for i in range(segments):
            size = letters // segments + (i < letters % segments)
            pieces = [ids.get(text[at:at + 3], -1) for at in range(start, start + size - 2)]
            if -1 not in pieces:  # (else no unit holds this segment whole)
                piece, at = min(zip(pieces, range(start, start + size)), key=lambda p: counts[p[0]])
                lows.append(((piece << 6) | max(0, at - edits)) << 30)
                highs.append(((piece << 6) | (at + edits + 1)) << 30)
            start += size + 1
        if not lows:
            return _EMPTY
        firsts = np.searchsorted(self.piece_keys, lows).tolist()
        lasts = np.searchsorted(self.piece_keys, highs).tolist()
        found = np.concatenate([self.piece_keys[a:b] for a, b in zip(firsts, lasts)])
        lengths = (found >> 24) & 63
        return distinct(found[np.abs(lengths - len(text)) <= edits] & 0xFFFFFF).astype(np.int32)

    def sharing(self, text: str, merged: bool) -> np.ndarray:
        """Units holding at least half of the text's letter pairs, or all but three of them (one edit destroys at
        most three: a text of few distinct pairs), whose length an edit similarity of MIN_PART_SIMILARITY allows
        (within 30% of the longer). With a joined unit on either side they must be spelled alike to
        MIN_MERGED_SIMILARITY: at most `MERGED_EDITS` of the length apart, each edit destroying at most three
        pairs."""
        if merged and SEGMENT_TEXT[0] <= len(text) <= SEGMENT_TEXT[1]:
            return self._close_spelled(text)
        grams = bigrams(text)
        need = max(1, min((len(grams) + 1) // 2, len(grams) - 3))
        shortest, longest = math.ceil(0.7 * len(text) - 1e-9), math.floor(len(text) / 0.7 + 1e-9)
        if merged:
            edits = int(MERGED_EDITS * len(text))
            need = max(need, len(grams) - 3 * edits)
            shortest, longest = len(text) - edits, len(text) + edits
        slots = [slot for g in grams if (slot := self.ids.get(g)) is not None]
        if len(slots) < need:
            return _EMPTY
        first, last = np.searchsorted(self.rank_lengths, (shortest, longest + 1)).tolist()
        if first >= last:
            return _EMPTY
        base = np.asarray(slots, dtype=np.int64) * self.stride
        starts = np.searchsorted(self.keys, base + first).tolist()
        ends = np.searchsorted(self.keys, base + last).tolist()
        postings = [self.keys[a:b] for a, b in zip(starts, ends) if b > a]
        if len(postings) < need:
            return _EMPTY
        # The ranks found, from their keys: key = slot * stride + rank.
        ranks = np.concatenate(postings) % self.stride
        if len(ranks) * 8 < last - first:  # few: count by sorting rather than over the whole range
            found, counts = np.unique(ranks, return_counts=True)
            return self.by_rank[found[counts >= need]]
        counts = np.bincount(ranks - first, minlength=last - first)
        return self.by_rank[first + np.flatnonzero(counts >= need)]


class Vocabulary:
    """Units (a part, or adjacent parts written as one) of a list, each with the script group of the reading it
    came from ("plain" for Latin, Cyrillic, Greek...; a script code; "sounds"; "han" for characters)."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.groups: list[str] = []
        self.joined: list[bool] = []  # only ever a unit of several parts (joined parts must agree more closely)
        self._ids: dict[tuple[str, str], int] = {}

    def add(self, text: str, group: str, joined: bool) -> int:
        key = (text, group)
        vid = self._ids.get(key)
        if vid is None:
            vid = self._ids[key] = len(self.texts)
            self.texts.append(text)
            self.groups.append(group)
            self.joined.append(joined)
        elif not joined:
            self.joined[vid] = False  # a part somewhere: the lower bar of a single part applies
        return vid

    def freeze(self) -> None:
        """Build the lookup maps once every unit is in."""
        self._by_text: dict[str, list[int]] = defaultdict(list)
        self._short: dict[str, list[int]] = defaultdict(list)
        self._by_key: dict[str, list[int]] = defaultdict(list)  # s: sound, c: consonants, p: singular, x: stem
        for vid, (text, group) in enumerate(zip(self.texts, self.groups)):
            self._by_text[text].append(vid)
            if group == "han":
                continue
            if len(text) <= SHORT_PART + 1:
                for variant in _deletions(text):
                    self._short[variant].append(vid)
            keys = ["s:" + skeleton(text)]
            if len(bare := skeleton(text, False)) >= 5:
                keys.append("c:" + bare)
            if len(text) >= 4 and (singular := _singular(text)) != text:
                keys.append("p:" + singular)
            if len(text) >= STEM_PREFIX and not self.joined[vid]:  # stems meet single parts (score._token_score)
                keys.append("x:" + text[:STEM_PREFIX])
            for key in keys:
                self._by_key[key].append(vid)
        # Single parts and joins apart: a query's joined parts meet only single parts, and a join only at
        # MIN_MERGED_SIMILARITY (score._token_score), which a stricter lookup finds.
        spelled = [vid for vid, group in enumerate(self.groups) if group != "han"]
        self._single_pairs = PairIndex(self.texts, [v for v in spelled if not self.joined[v]])
        self._joined_pairs = PairIndex(self.texts, [v for v in spelled if self.joined[v]])
        self._near_merged = KeyIndex([(variant, v) for v in spelled if len(self.texts[v]) <= NEAR_MERGED_MAX + 1
                                      for variant in _deletions(self.texts[v])])
        self._by_text = dict(self._by_text)
        self._short = dict(self._short)
        self._by_key = dict(self._by_key)
        self._group_set = frozenset(self.groups) - {"han"}
        self._mode_keys: dict[tuple[str, str], tuple[KeyIndex, KeyIndex]] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.texts)

    def _mode_maps(self, mode: str, group: str) -> tuple[KeyIndex, KeyIndex]:
        """For one cross-script mode and one script group: its single parts' keys (joined parts are not compared
        across scripts), and each key with one letter left out. Built the first time a query needs them, or by
        warm(); Chinese and Japanese readings share theirs (phonetic._forms)."""
        family = "syllabic" if mode == "sounds" else mode
        maps = self._mode_keys.get((family, group))
        if maps is not None:
            return maps
        with self._lock:
            if (family, group) not in self._mode_keys:
                keys: list[tuple[str, int]] = []
                near: list[tuple[str, int]] = []
                for vid, text in enumerate(self.texts):
                    if self.groups[vid] != group or self.joined[vid]:
                        continue
                    fine, coarse = cross_script_keys(text, mode)
                    keys += [(key, vid) for key in fine | coarse]
                    near += [(variant, vid) for key in fine if len(key) >= 3 for variant in _deletions(key)]
                self._mode_keys[(family, group)] = (KeyIndex(keys), KeyIndex(near))
        return self._mode_keys[(family, group)]

    def warm(self) -> None:
        """Build now the cross-script keys a query in any script may need (a few seconds for a list of 100,000
        parts): a server or a bulk run does it once, before forking, and the snapshot cache keeps them."""
        queries = ("plain", "Arab", "Hebr", "Hang", "Hani", "sounds")
        for mode, group in sorted({(m, g) for g in self._group_set for q in queries
                                   if (m := pair_mode(q, g)) is not None}):
            self._mode_maps(mode, group)

    def _candidates(self, text: str, modes: Iterable[tuple[str, str]], merged: bool) -> tuple[set[int], list[int]]:
        """Units the text could meet: those met by a rule other than spelling (checked in full), and the single
        parts that share its spelling (one edit, or half of its letter pairs), to be checked by edit distance
        first. (Joined units sharing its spelling: _spelled_joins.)"""
        found: set[int] = set(self._by_text.get(text, ()))
        if len(text) == 1:
            return found, []
        found.update(self._by_text.get(text[0], ()))  # a list initial
        if text.isdigit():
            return found, []
        # Parts joined into one unit meet by spelling or sound only (parts.part_similarity with `merged`): the
        # lookups of nicknames, Korean spellings, plurals, stems and cross-script keys would find nothing that scores.
        lenient = not merged
        for name in related_names(text) if lenient else ():
            found.update(self._by_text.get(name, ()))
        if lenient and (bits := KOREAN_SPELLINGS.get(text, 0)):
            for spelling, other in KOREAN_SPELLINGS.items():
                if other & bits:
                    found.update(self._by_text.get(spelling, ()))
        if len(text) <= SHORT_PART:
            spelled: list[int] = [v for variant in _deletions(text) for v in self._short.get(variant, ())]
        elif merged and len(text) <= NEAR_MERGED_MAX:  # one edit away at most (see NEAR_MERGED_MAX)
            spelled = [v for v in self._near_merged.get_many(_deletions(text)) if not self.joined[v]]
        else:  # one edit away, and two or more where half of the letter pairs stay (parts.shares_bigrams)
            spelled = self._single_pairs.sharing(text, merged).tolist()
        keys = ["s:" + skeleton(text)]
        if len(bare := skeleton(text, False)) >= 5:
            keys.append("c:" + bare)
        if lenient and len(text) >= 4:
            keys.append("p:" + (singular := _singular(text)))
            found.update(self._by_text.get(singular, ()))
        if lenient and len(text) >= STEM_PREFIX:
            keys.append("x:" + text[:STEM_PREFIX])
        for key in keys:
            found.update(self._by_key.get(key, ()))
        for mode, group in modes if lenient else ():
            keys_map, near = self._mode_maps(mode, group)
            fine, coarse = cross_script_keys(text, mode)
            for key in fine | coarse:
                found.update(keys_map.get(key))
            for key in fine:
                if len(key) >= KEY_EDIT_MIN.get(mode, 3):
                    for variant in _deletions(key):
                        found.update(near.get(variant))
        return found, spelled

    def related(self, text: str, group: str, joined: bool, joins: bool = True) -> list[tuple[int, float, float]]:
        """Every unit a query unit could be aligned with, and the similarity it would get there: in an
        organization's name (where words of one stem meet) and in a person's (0 where it would not meet). A
        `joined` query unit is several parts written as one; `joins` asks for the list's joined units too."""
        found = self.related_parts(text, group, joined)
        return found + self.related_joins(text, group, joined, found) if joins else found

    def related_parts(self, text: str, group: str, joined: bool) -> list[tuple[int, float, float]]:
        """`related` without the list's joined units that only their spelling would find (see related_joins)."""
        if group == "han":
            return [(vid, 1.0, 1.0) for vid in self._by_text.get(text, ()) if self.groups[vid] == "han"]
        modes = {(m, g) for g in self._group_set if (m := pair_mode(group, g)) is not None}
        found, spelled = self._candidates(text, modes, joined)
        return self._similar(text, group, joined, found | self._close(text, spelled))

    def related_joins(self, text: str, group: str, joined: bool,
                      parts: list[tuple[int, float, float]]) -> list[tuple[int, float, float]]:
        """What `related` with `joins` adds to `parts` (related_parts' answer): the list's joined units one edit
        away, or sharing most letter pairs (one unit looked up both ways costs the lookups of both once)."""
        if group == "han" or len(text) <= SHORT_PART:
            return []  # (the short parts' map holds joined units too: related_parts found them)
        if joined and len(text) <= NEAR_MERGED_MAX:
            spelled = [v for v in self._near_merged.get_many(_deletions(text)) if self.joined[v]]
        else:
            spelled = self._joined_pairs.sharing(text, True).tolist()
        met = {vid for vid, _, _ in parts}
        return self._similar(text, group, joined, self._close(text, spelled) - met)

    def _close(self, text: str, spelled: list[int]) -> set[int]:
        """The units spelled close enough to be checked (RELATED_CUT)."""
        if not spelled:
            return set()
        close = process.cdist([text], [self.texts[v] for v in spelled], scorer=OSA.normalized_similarity,
                              dtype=np.float32, score_cutoff=RELATED_CUT)[0]
        return {v for v, sim in zip(spelled, close.tolist()) if sim > 0}

    def _similar(self, text: str, group: str, joined: bool, vids: Iterable[int]) -> list[tuple[int, float, float]]:
        """Of these units, those the text meets, with the similarity as an organization's and a person's part."""
        out = []
        for vid in vids:
            other = self.groups[vid]
            if other == "han" or (other == "sounds" and group == "sounds"):
                continue
            merged = joined or self.joined[vid]
            mode = pair_mode(group, other)
            least = MIN_MERGED_SIMILARITY if merged else MIN_PART_SIMILARITY
            organization, _ = part_similarity(text, self.texts[vid], mode, not merged, merged)
            if organization >= least:
                person = organization if merged else part_similarity(text, self.texts[vid], mode)[0]
                out.append((vid, organization, person if person >= least else 0.0))
        return out

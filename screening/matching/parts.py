"""Similarity of two name parts, and how it was reached: the rules, each with the lookup that finds the list parts it
admits (vocabulary.py), so that retrieval never misses a part that scores."""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz.distance import OSA

from .nicknames import are_nicknames
from .phonetic import cross_script_keys, is_pinyin, is_pinyin_syllable, skeleton
from .text import CROSS_SCRIPT_MODE
from .vocab import KOREAN_SURNAMES

MIN_PART_SIMILARITY = 0.7  # below this two parts are not considered the same part at all
# Parts joined to meet the other side must agree closely: "mustafa habib" written as one word is 77% like
# "mustafa khalil", and yet another name; sounding alike counts only with this much of the spelling in common.
MIN_MERGED_SIMILARITY = 0.85
MERGED_SOUND_SPELLING = 0.6
SOUNDS_ALIKE_SIMILARITY = 0.88  # transliteration variants (Mohammed / Muhammad) count as a near-exact part
SAME_CONSONANTS_SIMILARITY = 0.86  # long parts with the same consonants (Vladimir / Volodymyr)
NICKNAME_SIMILARITY = 0.9
PLURAL_SIMILARITY = 0.92
STEM_SIMILARITY = 0.85
INITIAL_SIMILARITY = 0.75
# Keys one letter apart count from this length: the keys of Western names read in Han characters or kana are
# short and meet by chance (John / 朱海仑 juhailun: shn / shrn).
KEY_EDIT_MIN = {"sounds": 4, "syllabic": 4}

# Latin spellings of one Korean family name share a bit (Lee / Yi / Rhee / Ri; Park / Pak; Choi / Choe).
KOREAN_SPELLINGS: dict[str, int] = {}
for _bit, _spellings in enumerate(KOREAN_SURNAMES.values()):
    for _spelling in _spellings:
        if len(_spelling) >= 2:
            KOREAN_SPELLINGS[_spelling] = KOREAN_SPELLINGS.get(_spelling, 0) | (1 << _bit)

_PLURAL = re.compile(r"(?:ies|es|s)$")


@lru_cache(maxsize=200_000)
def bigrams(token: str) -> frozenset[str]:
    padded = f"^{token}$"
    return frozenset(padded[i:i + 2] for i in range(len(padded) - 1))


def shares_bigrams(a: str, b: str) -> bool:
    """At least half of part a's letter pairs (padded) are in part b: what makes two parts two edits or more
    apart still the same part (the index finds exactly these, see index.py)."""
    grams = bigrams(a)
    return 2 * len(grams & bigrams(b)) >= len(grams)


def _singular(token: str) -> str:
    return token[:-3] + "y" if token.endswith("ies") else _PLURAL.sub("", token)


def _cross_script(a: str, b: str, mode: str, how: str) -> tuple[float, str] | None:
    """Parts compared by how they sound across scripts (phonetic.cross_script_keys): the same keys, keys one
    letter apart, or the same coarse keys (Arabic)."""
    keys_a, coarse_a = cross_script_keys(a, mode)
    keys_b, coarse_b = cross_script_keys(b, mode)
    best: tuple[float, str] | None = None
    for key_a in sorted(keys_a):  # in order, so that the explanation is the same in every process
        for key_b in sorted(keys_b):
            if key_a == key_b:
                sim = SOUNDS_ALIKE_SIMILARITY if len(key_a) >= 2 else 0.8
            elif min(len(key_a), len(key_b)) >= KEY_EDIT_MIN.get(mode, 3) and OSA.distance(key_a, key_b) == 1:
                sim = min(0.85, 1.0 - 1.0 / max(len(key_a), len(key_b)))
            else:
                continue
            if best is None or sim > best[0]:
                best = (sim, f"{how}, sounds alike across scripts ({key_a}/{key_b})")
    if best is None and (common := (coarse_a | keys_a) & (coarse_b | keys_b)):
        key = max(sorted(common), key=len)
        if len(key) >= 2:
            best = (0.8, f"{how}, sounds alike across scripts ({key})")
    return best


STEM_PREFIX = 4  # letters a stem or an abbreviation shares with the word at least (vocabulary.py looks them up)


def _same_stem(a: str, b: str) -> bool:
    """Words of one stem in an organization's name (Metal / Metallic, Metallurgy / Metallurgical), or a word and
    its abbreviation (Trans / Transportation, Petro / Petroleum)."""
    short, long_ = sorted((a, b), key=len)
    common = next((i for i, (x, y) in enumerate(zip(short, long_)) if x != y), len(short))
    return common == len(short) >= STEM_PREFIX or (common >= 8 and len(short) >= 9)


@lru_cache(maxsize=500_000)
def part_similarity(a: str, b: str, mode: str | None = None, stems: bool = False,
                    merged: bool = False) -> tuple[float, str]:
    """Similarity of two name parts in [0, 1] and how it was reached: the best of the rules that apply. `a` is the
    query's part. `mode` is the cross-script mode (pair_mode) when one of the two names was written in another
    script; `stems` lets an organization's words of one stem meet (not a person's: Petrov / Petrovich); `merged`
    (a unit of parts joined) asks for more of the spelling: sounding alike needs MERGED_SOUND_SPELLING of it
    (Abou Mohamed / Abumohammad, but not Go Anfang / Quanping), and nicknames, plurals, stems and cross-script
    keys do not apply.

    Every rule that can reach MIN_PART_SIMILARITY has a lookup in vocabulary.py that finds exactly the list parts
    it admits (retrieval never misses a part that scores): one edit, or more where half of a's letter pairs stay
    in place; plural; stem; nickname; Korean surname spellings; the same sound or consonants; cross-script keys."""
    if a == b:
        return 1.0, "exact"
    if a.isdigit() or b.isdigit():
        return 0.0, "different numbers"
    if len(a) == 1 or len(b) == 1:
        short, long_ = (a, b) if len(a) == 1 else (b, a)
        return (INITIAL_SIMILARITY, "initial") if long_.startswith(short) else (0.0, "different")
    if not merged and are_nicknames(a, b):
        return NICKNAME_SIMILARITY, "nickname"
    distance = OSA.distance(a, b)
    length = len(a) if len(a) > len(b) else len(b)
    raw = 1.0 - distance / length
    if length < 5 and (distance > 1 or (is_pinyin_syllable(a) and is_pinyin_syllable(b))):
        # On a short part, two slips or another pinyin syllable make another name (Yan / Yang, Li / Lu); one slip
        # elsewhere is a typo like any other (Cehn / Chen, Gol / Gold, Guo / Go), if only just on three letters.
        raw -= (5 - length) * 0.1
    elif length == 3:
        raw = MIN_PART_SIMILARITY
    if raw < 0.0:
        raw = 0.0
    # Two edits or more that leave less than half of the part in place count only if the parts sound alike (and
    # below MIN_PART_SIMILARITY they are no part of each other anyway).
    best, how = (raw if distance <= 1 or (raw >= MIN_PART_SIMILARITY and shares_bigrams(a, b)) else 0.0), ""
    if best >= SOUNDS_ALIKE_SIMILARITY:
        return best, _edits(distance)
    if merged:
        stems = False
    elif (a[-1] == "s" or b[-1] == "s") and min(len(a), len(b)) >= 4 and _singular(a) == _singular(b):
        best, how = PLURAL_SIMILARITY, "singular and plural"
    # (A stem shares its first STEM_PREFIX letters: the cheap test first.)
    if stems and best < STEM_SIMILARITY and a[:STEM_PREFIX] == b[:STEM_PREFIX] and _same_stem(a, b):
        best, how = max(raw, STEM_SIMILARITY), "same stem"
    if not merged and best < SOUNDS_ALIKE_SIMILARITY and KOREAN_SPELLINGS.get(a, 0) & KOREAN_SPELLINGS.get(b, 0):
        best, how = SOUNDS_ALIKE_SIMILARITY, f"{_edits(distance)}, spellings of one Korean family name"
    if best >= SOUNDS_ALIKE_SIMILARITY or (mode is None and raw < (MERGED_SOUND_SPELLING if merged else 0.4)):
        return best, how or _edits(distance)  # no rule below can raise it
    # Two pinyin spellings that differ are different characters (Peng / Ping): no phonetic leniency between them,
    # unless one side is not a Chinese reading (Hangul, an abjad, a Western name in Han characters: mode "sounds").
    both_pinyin = mode in (None, "syllabic") and is_pinyin(a) and is_pinyin(b)
    if mode is not None and not both_pinyin and best < SOUNDS_ALIKE_SIMILARITY and not merged:
        found = _cross_script(a, b, mode, _edits(distance))
        if found is not None and found[0] > best:
            best, how = found
    if raw >= (MERGED_SOUND_SPELLING if merged else 0.4) and not both_pinyin and best < SOUNDS_ALIKE_SIMILARITY:
        key_a = skeleton(a)
        if len(key_a) >= 3 and key_a == skeleton(b):
            best, how = SOUNDS_ALIKE_SIMILARITY, f"{_edits(distance)}, sounds alike ({key_a})"
        elif best < SAME_CONSONANTS_SIMILARITY:
            bare = skeleton(a, False)
            if len(bare) >= 5 and bare == skeleton(b, False):
                best, how = SAME_CONSONANTS_SIMILARITY, f"{_edits(distance)}, same consonants ({bare})"
    return best, how or _edits(distance)


_EDITS = [f"{d} edit{'s' if d > 1 else ''}" for d in range(64)]


def _edits(distance: int) -> str:
    return _EDITS[distance] if distance < len(_EDITS) else f"{distance} edits"


def pair_mode(query_script: str, list_script: str) -> str | None:
    """How parts of two names are compared, by the scripts they were written in: None for two Latin (or Cyrillic,
    Greek...) names, else a cross-script mode of phonetic.cross_script_keys ("sounds" for the sound reading of a
    Western name written in Han characters)."""
    if "sounds" in (query_script, list_script):
        return "sounds"
    if query_script == list_script:
        mode = CROSS_SCRIPT_MODE.get(query_script)
        return mode if mode in ("arabic", "hebrew") else None
    return CROSS_SCRIPT_MODE.get(query_script) or CROSS_SCRIPT_MODE.get(list_script)



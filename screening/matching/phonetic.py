"""A consonant skeleton for name parts, so that transliterations of one name meet.

Mohammed, Muhammad, Mohamed and Mehmet; Gaddafi, Qadhafi and Kadhafi; Aleksandr and Alexander; Yevgeny and Evgeny;
and the vowel-less transliteration of Arabic or Hebrew script (mHmd): each group shares one skeleton. Vowels are
dropped, sounds that transliterations trade are folded together (b/p/f/v, c/g/k/q, d/t, s/z), digraphs reduced
(kh, sh, ph, th, dh, gh), doubles collapsed. The scorer uses equal skeletons as evidence only where the spelling is
already close, or where the query came from a script that does not write vowels.
"""

from __future__ import annotations

import re
from functools import lru_cache

_DIGRAPHS = [("sch", "s"), ("tch", "c"), ("sh", "s"), ("ch", "c"), ("zh", "j"), ("kh", "h"), ("gh", "g"),
             ("ph", "f"), ("th", "t"), ("dh", "d"), ("ck", "k"), ("dj", "j"), ("dzh", "j"), ("x", "ks")]
_FOLD = str.maketrans({"b": "p", "f": "p", "v": "p", "c": "k", "g": "k", "q": "k", "d": "t", "z": "s"})
_VOWELS = re.compile(r"[aeiouyw]")
_DOUBLES = re.compile(r"(.)\1+")


_VOWEL_CLASS = str.maketrans({"a": "a", "e": "e", "i": "e", "y": "e", "o": "o", "u": "o", "w": "o"})


@lru_cache(maxsize=200_000)
def skeleton(token: str, keep_first_vowel: bool = True) -> str:
    """The consonants, folded; led by the class of the first vowel (a / e-i / o-u), which tells Hussein from
    Hassan while Mohammed and Muhammad, Osama and Usama still meet. Without vowels for vowel-less scripts."""
    out = token
    for digraph, replacement in _DIGRAPHS:
        out = out.replace(digraph, replacement)
    first_vowel = next((ch for ch in out if ch in "aeiouyw"), "")
    out = _VOWELS.sub("", out.translate(_FOLD))
    out = _DOUBLES.sub(r"\1", out)
    if len(out) > 1 and out.endswith("h"):  # a final h is silent in most transliterations (Abdullah, Moshe)
        out = out[:-1]
    if keep_first_vowel and first_vowel:
        out = first_vowel.translate(_VOWEL_CLASS) + out
    return out


@lru_cache(maxsize=1)
def _pinyin_syllables() -> frozenset[str]:
    """Every toneless pinyin syllable, from pypinyin's own dictionary."""
    import unicodedata

    from pypinyin.constants import PINYIN_DICT

    syllables = set()
    for readings in PINYIN_DICT.values():
        for reading in readings.split(","):
            plain = "".join(c for c in unicodedata.normalize("NFD", reading) if not unicodedata.combining(c))
            syllables.add(plain.replace("ü", "v").lower())
    # Interjections written without a vowel (n, ng, hm) would let any consonant pass for a syllable.
    return frozenset(s for s in syllables if s.isascii() and s.isalpha() and any(v in s for v in "aeiouv"))


def is_pinyin_syllable(token: str) -> bool:
    return token in _pinyin_syllables()


@lru_cache(maxsize=200_000)
def pinyin_syllable_count(token: str) -> int:
    """The fewest pinyin syllables the part splits into (0 when it does not split into pinyin at all)."""
    syllables = _pinyin_syllables()
    n = len(token)
    reachable = {0: 0}  # position -> fewest syllables to get there
    for start in range(n):
        if start not in reachable:
            continue
        for end in range(start + 1, min(n, start + 6) + 1):
            if token[start:end] in syllables:
                count = reachable[start] + 1
                if count < reachable.get(end, 99):
                    reachable[end] = count
    return reachable.get(n, 0)


def is_pinyin(token: str) -> bool:
    """True when the part splits into one to four pinyin syllables (a Chinese name part written in pinyin)."""
    return 1 <= pinyin_syllable_count(token) <= 4


def looks_chinese(tokens: tuple[str, ...]) -> bool:
    """A Latin name that reads as a Chinese name in pinyin: two parts or more, or three syllables or more, all
    pinyin (Chen Guangcheng, Chenguangcheng; not Rice or Penn)."""
    counts = [pinyin_syllable_count(t) for t in tokens]
    return bool(counts) and all(counts) and (len(counts) >= 2 or counts[0] >= 3)


# How a name part sounds when it crossed scripts: the consonants, with what each script cannot tell apart folded
# together. Arabic and Hebrew write few vowels and one letter for several Latin spellings (ث th / s, ذ dh / z,
# ض d / z; Hebrew ש sh / s, י y / j); Korean romanizations trade g/k, d/t, b/p, j/ch, r/l and most vowels; Chinese
# and Japanese readings of Western names add vowels, read l as r, j, z, dz and soft g as one sound, m before a labial as n, th as
# t or s, and drop an r after a vowel (Rainer / 莱纳 laina, Mueller / ミューラー myuuraa).
CROSS_SCRIPT_MODES = ("arabic", "hebrew", "hangul", "syllabic", "sounds")
_SOFT_C = re.compile(r"c(?=[eiy])")
_SOFT_G = re.compile(r"g(?=[eiy])")
_R_AFTER_VOWEL = re.compile(r"(?<=[aeiouy])r(?=[^aeiouy]|$)")
_H_AFTER_VOWEL = re.compile(r"(?<=[aeiouy])h")
_DENTALS = str.maketrans({"t": "T", "d": "T", "s": "T", "z": "T"})


def _forms(token: str, mode: str) -> set[str]:
    if mode == "hangul":
        return {_H_AFTER_VOWEL.sub("", token.replace("ch", "j")).replace("l", "r")}
    if mode == "hebrew":
        token = _SOFT_C.sub("s", token).replace("ck", "k").replace("sh", "s").replace("w", "v").replace("j", "y")
        return {token, token.replace("v", "")}  # vav is a consonant or the vowel o / u (Gurion, Shimon)
    if mode == "arabic":
        return {token, token.replace("v", "").replace("w", "")}
    token = _SOFT_C.sub("s", token)
    token = _SOFT_G.sub("z", token)
    token = re.sub(r"d[sz]", "z", token).replace("ng", "n")
    token = re.sub(r"m(?=[bp])", "n", token).replace("l", "r")
    # j is z in Japanese and Chinese readings (Frazier, Giannini), y in older ones (约翰 John).
    forms = {f for base in (token.replace("j", "z"), token.replace("j", "y")) if (f := base)}
    forms |= {_R_AFTER_VOWEL.sub("", f) for f in forms}
    return forms | {f.replace("th", "s") for f in forms if "th" in f}


@lru_cache(maxsize=200_000)
def cross_script_keys(token: str, mode: str) -> tuple[frozenset[str], frozenset[str]]:
    """The part's consonant keys in a cross-script mode, and coarser keys (Arabic: the dentals and sibilants t, d,
    s, z, th, dh as one) that count for less."""
    keys = frozenset(k for k in (skeleton(f, False) for f in _forms(token, mode)) if k)
    coarse = frozenset(k.translate(_DENTALS) for k in keys) if mode == "arabic" else frozenset()
    return keys, coarse - keys

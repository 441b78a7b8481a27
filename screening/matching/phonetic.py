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
    return frozenset(s for s in syllables if s.isascii() and s.isalpha())


@lru_cache(maxsize=200_000)
def is_pinyin(token: str) -> bool:
    """True when the part splits into one to four pinyin syllables (a Chinese name part written in pinyin)."""
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
    return 1 <= reachable.get(n, 99) <= 4

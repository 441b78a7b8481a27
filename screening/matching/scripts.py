"""Romanization of the scripts whose generic transliteration loses what names need: Arabic (and Persian, Urdu,
Pashto) and Hebrew, which write few vowels, and the readings of Chinese characters used for Western names.

Arabic: the article (al-, with sun-letter and li-/wa- prefixes), compound names written as one word (عبدالرحمن →
abd al rahman, نورالدين → nur al din, حبيب الله → habib allah), long vowels (ا و ي as a, u, i between consonants),
ta marbuta, hamza seats and the Persian letters. Hebrew: vav and yod as vowels or consonants, geresh, final forms.
The output is plain ASCII in the spelling conventions of English-language lists (kh, sh, th, dh, gh), so that the
consonant skeletons of phonetic.py can meet the Latin form.
"""

from __future__ import annotations

import re

_ARABIC_LETTERS = {
    "ا": "a", "أ": "a", "إ": "i", "آ": "a", "ٱ": "a", "ء": "", "ؤ": "u", "ئ": "i", "ى": "y", "ة": "a",
    "ب": "b", "ت": "t", "ث": "th", "ج": "j", "ح": "h", "خ": "kh", "د": "d", "ذ": "dh", "ر": "r", "ز": "z",
    "س": "s", "ش": "sh", "ص": "s", "ض": "d", "ط": "t", "ظ": "z", "ع": "", "غ": "gh", "ف": "f", "ق": "q",
    "ك": "k", "ل": "l", "م": "m", "ن": "n", "ه": "h", "و": "w", "ي": "y",
    # Persian, Urdu and Pashto letters
    "پ": "p", "چ": "ch", "ژ": "zh", "گ": "g", "ک": "k", "ی": "y", "ې": "e", "ے": "e", "ہ": "h", "ھ": "h",
    "ۃ": "a", "ۀ": "a", "ٹ": "t", "ڈ": "d", "ڑ": "r", "ں": "n", "ټ": "t", "ځ": "z", "څ": "s", "ډ": "d", "ړ": "r",
    "ږ": "zh", "ښ": "sh", "ګ": "g", "ڼ": "n", "ۍ": "i", "ك": "k",
}
_ARABIC_MARKS = {"َ": "a", "ِ": "i", "ُ": "u", "ً": "an", "ٍ": "in", "ٌ": "un", "ْ": "", "ٰ": "a", "ـ": ""}
_SHADDA = "ّ"
_SEMIVOWELS = {"w": "u", "y": "i"}  # و and ي between consonants are the long vowels u and i
_ARABIC_WORD = re.compile(r"[\u0600-\u06ff\u0750-\u077f]+")
_ARTICLE = "ال"
# Persian and Urdu forms of yeh, kaf and heh, read as the Arabic letters for the word rules below.
_ARABIC_FORMS = str.maketrans({"ی": "ي", "ک": "ك", "ہ": "ه", "ۀ": "ة", "ۃ": "ة", "ى": "ي"})


def _arabic_letters(word: str) -> str:
    out: list[str] = []
    kinds: list[str] = []  # c consonant, v vowel, s semivowel
    for ch in word:
        if ch == _SHADDA and out:
            out.append(out[-1])
            kinds.append(kinds[-1])
            continue
        if ch in _ARABIC_MARKS:
            if _ARABIC_MARKS[ch]:
                out.append(_ARABIC_MARKS[ch])
                kinds.append("v")
            continue
        latin = _ARABIC_LETTERS.get(ch)
        if latin is None:
            continue
        if latin == "":
            if ch == "ع" and not out:  # a leading ain is read as a vowel (Omar, Ali, Issa)
                out.append("a")
                kinds.append("v")
            continue  # ain and hamza: written ' or not at all in Latin
        out.append(latin)
        kinds.append("s" if latin in _SEMIVOWELS else ("v" if latin in ("a", "i", "u", "e") else "c"))
    for i, kind in enumerate(kinds):  # left to right: a semivowel read as a consonant is one for the next letter
        if kind != "s":
            continue
        before = kinds[i - 1] if i else None
        after = kinds[i + 1] if i + 1 < len(kinds) else None
        if before == "c" and after in ("c", "s", None):
            out[i] = _SEMIVOWELS[out[i]]
            kinds[i] = "v"
        else:
            kinds[i] = "c"
    return "".join(out)


def _split_arabic_word(word: str) -> list[str]:
    """The article and the parts of compound names that Arabic writes as one word."""
    parts: list[str] = []
    if word in ("الله", "لله"):
        return ["allah"]
    if word.startswith("و" + _ARTICLE) and len(word) > 5:  # wa-l-: "and the"
        parts.append("wa")
        word = word[1:]
    if word.startswith("لل") and len(word) > 4:  # li-l-: "for the"
        parts.append("al")
        word = word[2:]
    elif word.startswith(_ARTICLE) and len(word) > 3:
        parts.append("al")
        word = word[2:]
    if word == "عبد":
        return parts + ["abd"]
    if word.startswith("عبد" + _ARTICLE) and len(word) > 5:
        return parts + ["abd", "al", *_split_arabic_word(word[5:])]
    if word.endswith("الله") and len(word) > 4:
        return parts + [word[:-4], "allah"]
    if word.endswith("الدين") and len(word) > 5:
        return parts + [word[:-5], "al", "din"]
    return parts + [word]


def romanize_arabic(text: str) -> str:
    """Arabic-script words to Latin in the spelling of English-language lists; other characters are kept."""
    def word(match: re.Match[str]) -> str:
        pieces = _split_arabic_word(match.group(0).translate(_ARABIC_FORMS))
        return " ".join(p if p.isascii() else _arabic_letters(p) for p in pieces)

    return _ARABIC_WORD.sub(word, text)


_HEBREW_LETTERS = {
    "א": "", "ב": "b", "ג": "g", "ד": "d", "ה": "h", "ז": "z", "ח": "h", "ט": "t", "כ": "k", "ך": "k",
    "ל": "l", "מ": "m", "ם": "m", "נ": "n", "ן": "n", "ס": "s", "ע": "", "פ": "p", "ף": "f", "צ": "ts",
    "ץ": "ts", "ק": "k", "ר": "r", "ש": "sh", "ת": "t",
}
_HEBREW_GERESH = {"ג": "j", "ז": "zh", "צ": "ch", "ץ": "ch", "ת": "th"}
_HEBREW_WORD = re.compile(r"[\u0590-\u05ff'׳״\"]+")


def _hebrew_word(word: str) -> str:
    out: list[str] = []
    chars = [c for c in word if c not in "״\""]
    i = 0
    while i < len(chars):
        ch = chars[i]
        nxt = chars[i + 1] if i + 1 < len(chars) else ""
        if nxt in ("'", "׳") and ch in _HEBREW_GERESH:
            out.append(_HEBREW_GERESH[ch])
            i += 2
            continue
        if ch in ("'", "׳") or "\u0591" <= ch <= "\u05c7":
            i += 1  # niqqud and stray geresh
            continue
        if ch == "ו":
            if nxt == "ו":  # double vav: the consonant v / w
                out.append("v")
                i += 2
                continue
            out.append("v" if i == 0 else "o")
        elif ch == "י":
            if nxt == "י":
                out.append("y")
                i += 2
                continue
            out.append("y" if i == 0 else "i")
        else:
            out.append(_HEBREW_LETTERS.get(ch, ""))
        i += 1
    return "".join(out)


def romanize_hebrew(text: str) -> str:
    return _HEBREW_WORD.sub(lambda m: _hebrew_word(m.group(0)), text)


# Pinyin spelled the way Western names are heard (塞西爾 "saixier" -> "saisier"), for the reading of Chinese
# characters that transliterate a Western name.
_PINYIN_SOUNDS = [("zh", "j"), ("x", "s"), ("q", "ch"), ("c", "ts")]


def pinyin_as_heard(syllables: list[str]) -> str:
    out = []
    for syllable in syllables:
        for spelling, sound in _PINYIN_SOUNDS:
            if syllable.startswith(spelling) and not (spelling == "c" and syllable.startswith("ch")):
                syllable = sound + syllable[len(spelling):]
                break
        out.append(syllable)
    return "".join(out)


# Wade-Giles, the romanization of Chinese before pinyin (Teng Hsiao-p'ing / Deng Xiaoping; Mao Tse-tung / Mao
# Zedong). Its spellings are generated from pypinyin's syllables by the conversion rules, apostrophes dropped as the
# normalizer drops them, so the aspirated and plain consonants (p' / p) read alike; a name is read back in pinyin.
_WG_INITIALS = [("zh", "ch"), ("ch", "ch"), ("sh", "sh"), ("b", "p"), ("p", "p"), ("d", "t"), ("t", "t"),
                ("g", "k"), ("k", "k"), ("j", "ch"), ("q", "ch"), ("x", "hs"), ("r", "j"), ("z", "ts"),
                ("c", "ts"), ("s", "s")]
_WG_FINALS = [("iong", "iung"), ("ong", "ung"), ("ian", "ien"), ("ie", "ieh"), ("ue", "ueh"), ("er", "erh")]


def _wade_giles(syllable: str) -> set[str]:
    """The Wade-Giles spellings (apostrophes dropped) of one toneless pinyin syllable."""
    special = {"zhi": {"chih"}, "chi": {"chih"}, "shi": {"shih"}, "ri": {"jih"}, "zi": {"tzu", "tsu"},
               "ci": {"tzu", "tsu"}, "si": {"ssu", "szu"}, "you": {"yu"}, "yong": {"yung"}, "yan": {"yen"},
               "ye": {"yeh"}, "yue": {"yueh"}, "er": {"erh"}, "e": {"o", "e"}}
    if syllable in special:
        return special[syllable]
    initial, rest = "", syllable
    for pinyin, wade in _WG_INITIALS:
        if syllable.startswith(pinyin):
            initial, rest = wade, syllable[len(pinyin):]
            break
    else:
        for first in "fmnlhwy":
            if syllable.startswith(first):
                initial, rest = first, syllable[1:]
                break
    if initial in ("k", "h") and rest == "e":
        rest = "o"  # ge / ke / he: ko, k'o, ho
    elif rest == "uo" and syllable[0] in "dtnlzcs" and not syllable.startswith(("zh", "ch", "sh")):
        rest = "o"  # duo: to, luo: lo, zuo: tso
    elif rest == "ui" and syllable[0] in "gk":
        rest = "uei"  # gui: kuei
    for pinyin, wade in _WG_FINALS:
        if rest.endswith(pinyin):
            rest = rest[:-len(pinyin)] + wade
            break
    return {initial + rest}


def _wade_giles_inventory() -> dict[str, frozenset[str]]:
    from .phonetic import _pinyin_syllables

    inventory: dict[str, set[str]] = {}
    for syllable in _pinyin_syllables():
        for spelling in _wade_giles(syllable):
            inventory.setdefault(spelling, set()).add(syllable)
    return {spelling: frozenset(readings) for spelling, readings in inventory.items()}


_WG: dict[str, frozenset[str]] = {}


def _wg_segment(token: str) -> list[str] | None:
    """The token as Wade-Giles syllables (fewest first), or None."""
    if not _WG:
        _WG.update(_wade_giles_inventory())
    best: dict[int, list[str]] = {0: []}
    for start in range(len(token)):
        if start not in best:
            continue
        for end in range(start + 1, min(len(token), start + 7) + 1):
            piece = token[start:end]
            if piece in _WG and (end not in best or len(best[end]) > len(best[start]) + 1):
                best[end] = best[start] + [piece]
    found = best.get(len(token))
    return found if found and len(found) <= 4 else None


# Spellings that pinyin never has: a name holding one is read as Wade-Giles.
_WG_MARKERS = ("hs", "ts", "tz", "ih", "ieh", "ien", "ueh", "ssu", "szu", "uei")


def wade_giles_readings(tokens: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Pinyin readings of a name written in Wade-Giles: one with the plain consonants (p, t, k, ch, ts as b, d, g,
    zh/j, z) and one with the aspirated (p, t, k, ch/q, c), since the apostrophes that told them apart are gone."""
    from .phonetic import is_pinyin

    if not any(m in t for t in tokens for m in _WG_MARKERS) or all(is_pinyin(t) for t in tokens):
        return []
    segmented = [_wg_segment(t) for t in tokens]
    if not all(segmented):
        return []
    readings = []
    for aspirated in (False, True):
        reading = []
        for pieces in segmented:
            word = ""
            for piece in pieces:  # type: ignore[union-attr]
                options = sorted(_WG[piece])
                plain = [o for o in options if o[:1] in "bdgjz" or o.startswith("zh")]
                strong = [o for o in options if o[:1] in "ptkqc" and not o.startswith("zh")]
                pool = (strong if aspirated else plain) or options
                word += pool[0]
            reading.append(word)
        if tuple(reading) != tokens and tuple(reading) not in readings:
            readings.append(tuple(reading))
    return readings

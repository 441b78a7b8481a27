"""Name normalization: one written name in, comparable name parts out.

Unicode NFKC, case, accents and tone marks, punctuation and hyphens, "SURNAME, Given" order, honorifics and legal
forms (also misspelt or run together), an organization's acronym in parentheses and its parenthetical qualifiers,
abbreviations, number words, ordinals and Roman numerals, digits typed for letters, and the Arabic particles
(al-, Abdul, -ullah, -uddin) in one spelling. Han characters are converted to simplified script (OpenCC) and
romanized to pinyin (pypinyin); Arabic and Hebrew are romanized by scripts.py, Japanese kana and kanji by pykakasi,
Hangul by korean-romanizer, other scripts by Unidecode.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from unidecode import unidecode

from .scripts import pinyin_as_heard, romanize_arabic, romanize_hebrew, wade_giles_readings
from .vocab import (ABBREVIATIONS, CJK_LEGAL_FORMS, HONORIFICS, KOREAN_SURNAMES, LEGAL_FORM_CLASS, LEGAL_FORMS,
                    NUMBER_WORDS, ORG_STOPWORDS, RUN_TOGETHER_LEGAL_FORMS, STOPWORDS)

NameType = Literal["person", "organization", "any"]

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df]")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_INITIALS = re.compile(r"\b([a-z])\.(?=[a-z]\b)")  # "l.l.c" -> "llc", "u.s." -> "us."
_PERSON_INITIAL = re.compile(r"\b([a-z])\.")
_JOINERS = re.compile(r"[\-‐‑‒–—'’`´ʼ]")  # hyphens and apostrophes join the parts they separate
_HYPHENS = re.compile(r"[\-‐‑‒–—]")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_SPACED_LETTERS = re.compile(r"\b[a-z](?:(?:\s+|\s*&\s*)[a-z]\b(?!\.))+")
_HYPHENATED = re.compile(r"[a-z0-9]+(?:[\-‐‑‒–—][a-z0-9]+)+")
# The Arabic article in its Latin spellings (al-, el-, ad-, ash-, ul-, ud-...; hyphen only: El'tsin is a name) is
# written "al"; the Persian ezafe between two words (Tehrik-e Taliban, Tameer-i-Nau) is dropped.
_ARTICLE = re.compile(r"(?:(?<=[a-z])[\-‐‑])?\b(?:al|el|ad|ash|as|at|az|ar|an|ud|ul|ur|us|uz|ut|un)[\-‐‑](?=[a-z])"
                      r"|(?<=[a-z])[\-‐‑](?:al|el|ul|ud|ur|us|uz|ut)\b(?=\s)")
_EZAFE = re.compile(r"(?<=[a-z])[\-‐‑](?:e|i|y)(?:[\-‐‑]|\s+)(?=[a-z])")
_ABD = re.compile(r"^abd(?:ul|el|al|ol|oul|ur|us|ar|as|ash|en|un)(?=[a-z]{4,}$)")
_ABD_ALONE = frozenset({"abdul", "abdel", "abdal", "abdol", "abdoul", "abdur", "abdus"})
_ALLAH = re.compile(r"^([a-z]{2,}?)(?:ullah|ulla|ollah|allah|illah|ullahi)$")
_DIN = re.compile(r"^([a-z]{3,}?)(?:uddin|uddeen|uddine|eddin|eddine|addin|aldin|oddin|udin|ud din)$")
_ORDINAL_DIGITS = re.compile(r"^(\d+)(?:st|nd|rd|th)$")
_ROMAN = re.compile(r"^(?=[ivx]{2,})(x{0,3})(ix|iv|v?i{0,3})$")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b"})
_PAREN = re.compile(r"\(([^()]*)\)")
_CAMEL_LEGAL = re.compile(r"(?<=[a-z])(GmbH|LLC|Ltd|LTD|AG|SA|Inc|INC|Corp|PLC|LLP|OOO|JSC|BV|NV|SpA|SRL|SARL|KG)\b")
_LEGAL_FORM_SET = set(LEGAL_FORMS)
LONG_LEGAL_WORDS = sorted({word for form in LEGAL_FORMS for word in form if len(word) >= 6})
SHORT_LEGAL_WORDS = sorted({form[0] for form in LEGAL_FORMS if len(form) == 1 and 3 <= len(form[0]) <= 5})
_FORMS_BY_LAST: dict[str, list[tuple[str, ...]]] = {}
_FORMS_BY_FIRST: dict[str, list[tuple[str, ...]]] = {}
for _form in LEGAL_FORMS:  # LEGAL_FORMS is longest first, and so stays each list
    _FORMS_BY_LAST.setdefault(_form[-1], []).append(_form)
    _FORMS_BY_FIRST.setdefault(_form[0], []).append(_form)
SURNAME_PARTICLES = frozenset({"al", "el", "bin", "ibn", "bint", "abu", "van", "von", "der", "den", "de", "del",
                               "della", "di", "da", "dos", "du", "la", "le", "mac", "o"})
# Scripts whose romanization is only an approximation, and how their parts are compared with Latin ones
# (phonetic.cross_script_keys): Arabic and Hebrew lack vowels; Hangul romanizations vary; Chinese and Japanese
# readings of Western names add vowels and trade consonants.
# A Chinese reading is "syllabic" (two pinyin syllables that differ stay different: Peng / Ping); a Western name
# read in Han characters or kana is only "sounds".
CROSS_SCRIPT_MODE = {"Arab": "arabic", "Thai": "arabic", "Hebr": "hebrew", "Hang": "hangul", "Hani": "syllabic",
                     "Jpan": "sounds"}


@dataclass(frozen=True)
class NameForm:
    """A name prepared for comparison."""

    original: str
    tokens: tuple[str, ...]
    script: str = "Latn"
    han: str | None = None  # simplified Han characters, legal forms removed, when the name is written in Han
    surname: str | None = None  # the part known to be the family name, where the writing tells
    removed: tuple[str, ...] = field(default=())  # honorifics, legal forms and qualifiers that were dropped
    alternatives: tuple[tuple[str, ...], ...] = field(default=())  # other readings (Japanese for Han names)
    acronyms: tuple[str, ...] = field(default=())  # initials of a name of several words (IRGC), or given with it
    han_tokens: tuple[str, ...] = field(default=())  # for a Han name: the characters each token reads
    sound_readings: tuple[tuple[str, ...], ...] = field(default=())  # a Western name's sound in Han characters
    legal_form: str | None = None  # the class of the legal form set aside (vocab.LEGAL_FORM_CLASS)

    @property
    def cross_script_mode(self) -> str | None:
        return CROSS_SCRIPT_MODE.get(self.script)

    @property
    def normalized(self) -> str:
        return " ".join(self.tokens)


@lru_cache(maxsize=1)
def _opencc_t2s():  # type: ignore[no-untyped-def]
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return _opencc_t2s().convert(text)


def detect_script(text: str) -> str:
    if text.isascii():
        return "Latn"
    if _HAN.search(text) and not _KANA.search(text):
        return "Hani"
    if _KANA.search(text):
        return "Jpan"
    if _HANGUL.search(text):
        return "Hang"
    for ch in text:
        if ch.isalpha() and not ch.isascii():
            name = unicodedata.name(ch, "")
            for prefix, code in (("CYRILLIC", "Cyrl"), ("GREEK", "Grek"), ("ARABIC", "Arab"), ("HEBREW", "Hebr"),
                                 ("THAI", "Thai"), ("DEVANAGARI", "Deva"), ("GEORGIAN", "Geor"),
                                 ("ARMENIAN", "Armn")):
                if name.startswith(prefix):
                    return code
    return "Latn"


def _misspelt_legal_word(token: str) -> str | None:
    """A legal-form word written with one slip is still a legal form: a long one with any one edit ("corrporation",
    "compnay"); a short one with two letters swapped ("lcl", "gbmh") or a letter added ("fzae", "lxlp"), and one
    of four letters or five with any one edit ("gmhb", "pjsk"). Three-letter forms are not changed into by a
    substitution: "ink" is a word, not "inc"."""
    from rapidfuzz.distance import OSA

    if len(token) >= 6:
        for word in LONG_LEGAL_WORDS:
            if abs(len(word) - len(token)) <= 1 and OSA.distance(token, word) <= (2 if len(word) >= 10 else 1):
                return word
    if 3 <= len(token) <= 6:
        for word in SHORT_LEGAL_WORDS:
            if abs(len(word) - len(token)) > 1 or OSA.distance(token, word) != 1:
                continue
            if sorted(word) == sorted(token) or len(token) == len(word) + 1 or len(word) >= 4:
                return word
    return None


def _strip_sequences(tokens: list[str], removed: list[str], hyphenated: set[tuple[str, str]]) -> list[str]:
    """Drop legal forms at the end (repeatedly: "co ltd") and at the start ("jsc gazprom"), longest first; not one
    joined to the name by a hyphen."""
    changed = True
    while changed and len(tokens) > 1:
        changed = False
        if tokens[-1] not in _FORMS_BY_LAST:
            fixed = _misspelt_legal_word(tokens[-1])
            if fixed and fixed != tokens[-1]:
                tokens = tokens[:-1] + [fixed]
        # Only the forms that end with the last part (or start with the first) are worth comparing.
        for form in _FORMS_BY_LAST.get(tokens[-1], ()):
            if (len(tokens) > len(form) and tuple(tokens[-len(form):]) == form
                    and (tokens[-len(form) - 1], form[0]) not in hyphenated):
                removed.append(" ".join(form))
                tokens, changed = tokens[:-len(form)], True
                break
        else:
            for form in _FORMS_BY_FIRST.get(tokens[0], ()):
                if (len(tokens) > len(form) and tuple(tokens[:len(form)]) == form
                        and (form[-1], tokens[len(form)]) not in hyphenated):
                    removed.append(" ".join(form))
                    tokens, changed = tokens[len(form):], True
                    break
    return tokens


def _romanize_han(han: str) -> list[str]:
    from pypinyin import Style, lazy_pinyin

    return [s for s in (re.sub(r"[^a-z]", "", p.lower()) for p in lazy_pinyin(han, style=Style.NORMAL)) if s]


_NAME_DOTS = re.compile(r"[·・‧•]")


def _han_form(text: str, name_type: NameType) -> NameForm:
    if _NAME_DOTS.search(text):
        # A foreign name written in characters, its parts separated by a middle dot (约翰·史密斯 John Smith): each
        # part one token, read in pinyin and by its sound.
        parts = [p for p in ("".join(_HAN.findall(to_simplified(x))) for x in _NAME_DOTS.split(text)) if p]
        readings = [_romanize_han(part) for part in parts]
        return NameForm(text, tuple("".join(r) for r in readings), "Hani", "".join(parts), None,
                        sound_readings=(tuple(pinyin_as_heard(r) for r in readings),))
    simplified = "".join(_HAN.findall(to_simplified(text)))
    removed: list[str] = []
    core = simplified
    for form in CJK_LEGAL_FORMS:
        if core.endswith(form) and len(core) > len(form):
            removed.append(form)
            core = core[: -len(form)]
            break
    syllables = _romanize_han(core)
    is_org = bool(removed) or name_type == "organization" or len(core) > 4
    legal_form = "ltd" if removed else None
    if not is_org and 2 <= len(syllables) <= 4 and len(syllables) == len(core):
        # A Chinese personal name: family name first (one syllable), the given name written as one word in pinyin.
        # The same characters may be a Japanese name, or a Western name written in characters by their sound
        # (佩恩 Penn, 克劳斯 Claus): both readings are kept as alternatives.
        tokens = (syllables[0], "".join(syllables[1:]))
        japanese = _japanese_reading("".join(_HAN.findall(text)))  # as written: OpenCC's forms are not Japanese
        alternatives = (japanese,) if japanese and japanese != tokens else ()
        return NameForm(text, tokens, "Hani", core, syllables[0], tuple(removed), alternatives,
                        han_tokens=(core[0], core[1:]), sound_readings=((pinyin_as_heard(syllables),),),
                        legal_form=legal_form)
    han_tokens = tuple(core) if len(syllables) == len(core) else ()
    return NameForm(text, tuple(syllables), "Hani", core, None, tuple(removed), han_tokens=han_tokens,
                    legal_form=legal_form)


@lru_cache(maxsize=1)
def _kakasi():  # type: ignore[no-untyped-def]
    import pykakasi

    return pykakasi.kakasi()


def _japanese_reading(text: str) -> tuple[str, ...]:
    """Hepburn romanization of kanji and kana (pykakasi), one token per word it finds."""
    words = [re.sub(r"[^a-z]", "", item["hepburn"].lower()) for item in _kakasi().convert(text)]
    return tuple(w for w in words if w)


def load_converters() -> None:
    """Load the converters and tables now (OpenCC, pypinyin's phrases and syllables, pykakasi's dictionaries, the
    nickname table: a few tenths of a second) rather than at the first name that needs them; a process that forks
    workers does it once, before forking."""
    from .nicknames import load_nicknames
    from .phonetic import is_pinyin

    _opencc_t2s()
    _romanize_han("中")
    _kakasi()
    is_pinyin("zhong")
    load_nicknames()


def _hangul_to_latin(text: str) -> str:
    # Revised Romanization (korean-romanizer), one syllable at a time: run together ("gimjeongeun") the name
    # parts would be lost.
    from korean_romanizer.romanizer import Romanizer

    return "".join(f" {Romanizer(ch).romanize()} " if _HANGUL.match(ch) else ch for ch in text)


def _split_parts(ascii_text: str, split_hyphens: bool = False, person: bool = False) -> list[str]:
    """Parts of a lower-case ASCII name. Hyphens join a person's parts (Quan-guo, Jean-Luc) and separate an
    organization's words (IMPORT-EXPORT, INTERNATIONAL-BOSNIA): where the other name writes them as one word, the
    scorer joins them again. A person's dotted initials are initials each (J.F. Kennedy), an organization's one
    word (L.L.C.)."""
    ascii_text = _PERSON_INITIAL.sub(r"\1 ", ascii_text) if person else _INITIALS.sub(r"\1", ascii_text)
    ascii_text = _EZAFE.sub(" ", ascii_text)
    ascii_text = _ARTICLE.sub(" al ", ascii_text)
    if split_hyphens:
        ascii_text = _HYPHENS.sub(" ", ascii_text)
    ascii_text = _JOINERS.sub("", ascii_text)
    if split_hyphens:
        # An organization's letters written apart are one word: "B R C S.A." is BRC, "J & E" is JE (but J/V stays
        # two letters, for Joint Venture).
        ascii_text = _SPACED_LETTERS.sub(lambda m: _NON_ALNUM.sub("", m.group()), ascii_text)
    return _NON_ALNUM.sub(" ", ascii_text).split()


def _hyphen_pairs(ascii_text: str) -> set[tuple[str, str]]:
    """The neighbouring words of hyphenated compounds: LE-HUA is a name, whatever "le" is on its own, and EP-LDA a
    registration, not EP with the legal form Lda."""
    pairs = set()
    for compound in _HYPHENATED.findall(ascii_text):
        words = _HYPHENS.split(compound)
        pairs.update(zip(words, words[1:]))
    return pairs


def _arabic_particles(tokens: list[str]) -> list[str]:
    """Abdul / Abd al- / Abdel, -ullah / -allah, -uddin / -eddine: one spelling, as separate parts, whether written
    apart, hyphenated or run together (Abdulrahman, Habibullah, Salahuddin)."""
    out: list[str] = []
    for i, token in enumerate(tokens):
        if token in _ABD_ALONE and i + 1 < len(tokens):
            out += ["abd"] if tokens[i + 1] == "al" else ["abd", "al"]
            continue
        if (match := _ABD.match(token)) is not None:
            token = token[match.end():]
            out += ["abd", "al"]
        if (match := _ALLAH.match(token)) is not None and token not in ("allah", "abdallah"):
            out += [match.group(1), "allah"] if match.group(1) != "abd" else ["abd", "allah"]
        elif token in ("abdallah", "abdullah"):
            out += ["abd", "allah"]
        elif (match := _DIN.match(token)) is not None:
            out += [match.group(1), "al", "din"]
        else:
            out.append(token)
    return out


def _number(token: str) -> str:
    """Number words, ordinals and Roman numerals as digits (organizations' names)."""
    if token in NUMBER_WORDS:
        return str(NUMBER_WORDS[token])
    if (match := _ORDINAL_DIGITS.match(token)) is not None:
        return match.group(1)
    if (match := _ROMAN.match(token)) is not None and token != "xi":
        tens, units = match.groups()
        value = 10 * len(tens)
        value += {"ix": 9, "iv": 4}.get(units, 5 * units.count("v") + units.count("i"))
        return str(value) if value >= 2 else token
    return token


def _joined_numbers(tokens: list[str]) -> list[str]:
    """Twenty One -> 21 (written apart; "twenty-one" is joined by the hyphen rule and found in NUMBER_WORDS)."""
    out: list[str] = []
    for token in tokens:
        if out and token.isdigit() and int(token) < 10 and out[-1].isdigit() and int(out[-1]) % 10 == 0 \
                and 20 <= int(out[-1]) <= 90:
            out[-1] = str(int(out[-1]) + int(token))
        else:
            out.append(token)
    return out


def _typed_digits(token: str) -> str:
    """Digits typed for letters inside a word (Vikt0r Ivan0v): the letters they stand for."""
    if token.isalpha() or token.isdigit() or _ORDINAL_DIGITS.match(token):
        return token
    digits = sum(ch.isdigit() for ch in token)
    return token.translate(_LEET) if digits <= 2 and len(token) - digits >= 3 else token


def _parentheticals(text: str, name_type: NameType) -> tuple[str, list[str], list[str]]:
    """An organization's parenthetical groups: one word whose first letter is the name's (MUHAMMAD JAMAL NETWORK
    (MJN), JUND AL-KHILAFAH IN ALGERIA (JAK-A)) is its acronym; others qualify it ((Deutschland), (HONG KONG))
    and are set aside. A person's parentheses are only punctuation."""
    if "(" not in text or name_type == "person":
        return text, [], []
    acronyms: list[str] = []
    qualifiers: list[str] = []
    outside = _PAREN.sub(" ", text)
    first = next(iter(_split_parts(unidecode(outside).lower())), "")
    for group in _PAREN.findall(text):
        words = _split_parts(unidecode(group).lower())
        if len(words) == 1 and 2 <= len(words[0]) <= 10 and words[0][0] == first[:1] and words[0].isalpha():
            acronyms.append(words[0])
        elif words:
            qualifiers.append(" ".join(words))
    if not _split_parts(unidecode(outside).lower()):
        return text.replace("(", " ").replace(")", " "), [], []
    return outside, acronyms, qualifiers


def _latin_tokens(text: str, script: str, name_type: NameType) -> tuple[list[str], str | None]:
    if script == "Hang":
        text = _hangul_to_latin(text)
    elif script == "Arab":
        text = romanize_arabic(text)
    elif script == "Hebr":
        text = romanize_hebrew(text)
    ascii_text = unidecode(text).lower()
    surname = None
    if ascii_text.count(",") == 1:
        # "SURNAME, Given" (list order): the first significant part before the comma is the family name.
        left, right = (_split_parts(part, person=name_type == "person") for part in ascii_text.split(","))
        significant = [t for t in left if t not in SURNAME_PARTICLES]
        if 1 <= len(left) <= 3 and right and significant:
            surname = significant[0]
    tokens = _split_parts(ascii_text, name_type == "organization", name_type == "person")
    if script == "Hang" and len(tokens) >= 2 and all(len(t) <= 5 for t in tokens):
        # Korean names: family name, then the given-name syllables as one word, as Latin writing usually has it.
        tokens = [tokens[0], "".join(tokens[1:])] if len(tokens) <= 4 else tokens
        surname = tokens[0]
    return tokens, surname


def _run_together_legal_form(tokens: list[str]) -> list[str]:
    """ACMEGMBH: a legal form that no name ends with, written run together with the last part."""
    if not tokens:
        return tokens
    last = tokens[-1]
    for form in RUN_TOGETHER_LEGAL_FORMS:
        if last.endswith(form) and len(last) >= len(form) + 3:
            return tokens[:-1] + [last[:-len(form)], form]
    return tokens


@lru_cache(maxsize=65536)
def normalize_name(text: str, name_type: NameType = "any") -> NameForm:
    """Prepare one written name for comparison (cached: list names and repeated queries cost nothing)."""
    text = unicodedata.normalize("NFKC", text).strip()
    script = detect_script(text)
    if script == "Hani":
        return _han_form(text, name_type)
    if script == "Jpan":
        text = " ".join(" ".join(_japanese_reading(part)) for part in text.split())
    text = _CAMEL_LEGAL.sub(r" \1", text) if name_type != "person" else text
    text, paren_acronyms, qualifiers = _parentheticals(text, name_type)
    tokens, surname = _latin_tokens(text, script, name_type)
    tokens = _arabic_particles([_typed_digits(t) for t in tokens])
    alternatives: tuple[tuple[str, ...], ...] = ()
    if script == "Hang" and len(tokens) >= 2:
        first_syllable = next((ch for ch in text if _HANGUL.match(ch)), "")
        alternatives = tuple((spelling, *tokens[1:]) for spelling in KOREAN_SURNAMES.get(first_syllable, ())
                             if spelling != tokens[0])
    elif script == "Latn" and name_type != "organization":
        alternatives = tuple(wade_giles_readings(tuple(tokens)))
    removed: list[str] = list(qualifiers)
    legal_form = None
    hyphenated = _hyphen_pairs(unidecode(text).lower()) if name_type == "organization" else set()
    if name_type == "person":
        # Only for a person: with type "any" the same words may be part of a name (Imam Hossein University,
        # Sea Star III); there they stay, at a low weight (vocab.base_weight).
        kept = [t for t in tokens if t not in HONORIFICS]
        if kept and len(kept) < len(tokens):
            removed += [t for t in tokens if t in HONORIFICS]
            tokens = kept
    else:
        tokens = _joined_numbers([_number(ABBREVIATIONS.get(t, t)) for t in tokens])
        acronym_source = [t for t in tokens if t not in STOPWORDS and t not in HONORIFICS]
        stripped = _strip_sequences(_run_together_legal_form(tokens), (dropped := []), hyphenated)
        if tuple(stripped) not in _LEGAL_FORM_SET:  # a name that is nothing but a legal form stays as written
            tokens, removed = stripped, removed + dropped
            legal_form = next((LEGAL_FORM_CLASS[tuple(f.split())] for f in dropped
                               if LEGAL_FORM_CLASS[tuple(f.split())] != "co"), None)
            legal_form = legal_form or ("co" if dropped else None)
    stopwords = STOPWORDS if name_type == "person" else STOPWORDS | ORG_STOPWORDS
    # An organization's hyphens were split above; the words they joined are kept (persons' stay joined).
    bound = {word for pair in hyphenated for word in pair}
    kept = [t for t in tokens if t not in stopwords or t == surname or t in bound]
    # A person's particles go (Maria de la Cruz), but not down to one part: Du Weihua, Le Pen are names.
    if kept and (name_type != "person" or len(kept) >= 2):
        tokens = kept
    if surname and surname not in tokens:
        surname = None
    acronyms: tuple[str, ...] = tuple(paren_acronyms)
    if name_type != "person" and len(tokens) >= 2:
        # Initials with and without the legal form: "China National Petroleum Corporation" is CNP and CNPC.
        with_form = "".join(t[0] for t in acronym_source)
        without = "".join(t[0] for t in tokens if t != "al")
        acronyms = tuple(dict.fromkeys(a for a in (*acronyms, with_form, without) if len(a) >= 3))
    return NameForm(text, tuple(tokens), script, None, surname, tuple(removed), alternatives, acronyms,
                    legal_form=legal_form)

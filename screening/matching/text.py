"""Name normalization: one written name in, comparable name parts out.

Unicode NFKC, case, accents and tone marks, punctuation and hyphens, "SURNAME, Given" order, honorifics and legal
forms. Han characters are converted to simplified script (OpenCC) and romanized to pinyin (pypinyin); other scripts
are transliterated to ASCII (Unidecode), Hangul syllable by syllable so that name parts keep their boundaries.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from unidecode import unidecode

from .vocab import CJK_LEGAL_FORMS, HONORIFICS, KOREAN_SURNAMES, LEGAL_FORMS, STOPWORDS

NameType = Literal["person", "organization", "any"]

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df]")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_INITIALS = re.compile(r"\b([a-z])\.(?=[a-z]\b)")  # "l.l.c" -> "llc", "u.s." -> "us."
_JOINERS = re.compile(r"[\-‐‑‒–—'’`´ʼ]")  # hyphens and apostrophes join the parts they separate
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_ARTICLE = re.compile(r"\b(al|el|ad|ash|as|at|az|ar|an|ud|ul)[\-‐‑](?=[a-z])")  # hyphen only: El'tsin is a name
_LEGAL_FORM_SET = set(LEGAL_FORMS)
LONG_LEGAL_WORDS = sorted({word for form in LEGAL_FORMS for word in form if len(word) >= 6})
_FORMS_BY_LAST: dict[str, list[tuple[str, ...]]] = {}
_FORMS_BY_FIRST: dict[str, list[tuple[str, ...]]] = {}
for _form in LEGAL_FORMS:  # LEGAL_FORMS is longest first, and so stays each list
    _FORMS_BY_LAST.setdefault(_form[-1], []).append(_form)
    _FORMS_BY_FIRST.setdefault(_form[0], []).append(_form)
LOOSE_VOWEL_SCRIPTS = frozenset({"Arab", "Hebr", "Thai"})
SURNAME_PARTICLES = frozenset({"al", "el", "bin", "ibn", "bint", "abu", "van", "von", "der", "den", "de", "del",
                               "della", "di", "da", "dos", "du", "la", "le", "mac", "o"})


@dataclass(frozen=True)
class NameForm:
    """A name prepared for comparison."""

    original: str
    tokens: tuple[str, ...]
    script: str = "Latn"
    han: str | None = None  # simplified Han characters, legal forms removed, when the name is written in Han
    surname: str | None = None  # the part known to be the family name, where the writing tells
    removed: tuple[str, ...] = field(default=())  # honorifics and legal forms that were dropped
    alternatives: tuple[tuple[str, ...], ...] = field(default=())  # other readings (Japanese for Han names)
    acronyms: tuple[str, ...] = field(default=())  # initials of a name of several words (IRGC)

    @property
    def loose_vowels(self) -> bool:
        """Written in a script whose transliteration lacks vowels (Arabic, Hebrew) or is unreliable (Thai)."""
        return self.script in LOOSE_VOWEL_SCRIPTS

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
    """A long legal-form word written with one slip ("corrporation", "compnay") is still a legal form."""
    if len(token) < 6:
        return None
    from rapidfuzz.distance import OSA

    for word in LONG_LEGAL_WORDS:
        if abs(len(word) - len(token)) <= 1 and OSA.distance(token, word) <= (2 if len(word) >= 10 else 1):
            return word
    return None


def _strip_sequences(tokens: list[str], removed: list[str]) -> list[str]:
    """Drop legal forms at the end (repeatedly: "co ltd") and at the start ("jsc gazprom"), longest first."""
    changed = True
    while changed and len(tokens) > 1:
        changed = False
        fixed = _misspelt_legal_word(tokens[-1])
        if fixed and fixed != tokens[-1]:
            tokens = tokens[:-1] + [fixed]
        # Only the forms that end with the last part (or start with the first) are worth comparing.
        for form in _FORMS_BY_LAST.get(tokens[-1], ()):
            if len(tokens) > len(form) and tuple(tokens[-len(form):]) == form:
                removed.append(" ".join(form))
                tokens, changed = tokens[:-len(form)], True
                break
        else:
            for form in _FORMS_BY_FIRST.get(tokens[0], ()):
                if len(tokens) > len(form) and tuple(tokens[:len(form)]) == form:
                    removed.append(" ".join(form))
                    tokens, changed = tokens[len(form):], True
                    break
    return tokens


def _romanize_han(han: str) -> list[str]:
    from pypinyin import Style, lazy_pinyin

    return [s for s in (re.sub(r"[^a-z]", "", p.lower()) for p in lazy_pinyin(han, style=Style.NORMAL)) if s]


def _han_form(text: str, name_type: NameType) -> NameForm:
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
    if not is_org and 2 <= len(syllables) <= 4:
        # A Chinese personal name: family name first (one syllable), the given name written as one word in pinyin.
        # The same characters may be a Japanese name: its reading is kept as an alternative.
        tokens = (syllables[0], "".join(syllables[1:]))
        japanese = _japanese_reading("".join(_HAN.findall(text)))  # as written: OpenCC's forms are not Japanese
        alternatives = (japanese,) if japanese and japanese != tokens else ()
        return NameForm(text, tokens, "Hani", core, syllables[0], tuple(removed), alternatives)
    return NameForm(text, tuple(syllables), "Hani", core, None, tuple(removed))


@lru_cache(maxsize=1)
def _kakasi():  # type: ignore[no-untyped-def]
    import pykakasi

    return pykakasi.kakasi()


def _japanese_reading(text: str) -> tuple[str, ...]:
    """Hepburn romanization of kanji and kana (pykakasi), one token per word it finds."""
    words = [re.sub(r"[^a-z]", "", item["hepburn"].lower()) for item in _kakasi().convert(text)]
    return tuple(w for w in words if w)


def load_converters() -> None:
    """Load the Han converters now (OpenCC, pypinyin's phrases, pykakasi's dictionaries: a quarter of a second
    without the cyclic collector, more with it) rather than at the first Han name a query brings; a process that
    forks workers does it once, before forking."""
    _opencc_t2s()
    _romanize_han("中")
    _kakasi()


def _hangul_to_latin(text: str) -> str:
    # Revised Romanization (korean-romanizer), one syllable at a time: run together ("gimjeongeun") the name
    # parts would be lost.
    from korean_romanizer.romanizer import Romanizer

    return "".join(f" {Romanizer(ch).romanize()} " if _HANGUL.match(ch) else ch for ch in text)


def _split_parts(ascii_text: str) -> list[str]:
    ascii_text = _INITIALS.sub(r"\1", ascii_text)
    # The Arabic article stays a part of its own (al-Assad: "al", "assad"), other hyphens join.
    ascii_text = _ARTICLE.sub(r"\1 ", ascii_text)
    ascii_text = _JOINERS.sub("", ascii_text)
    return _NON_ALNUM.sub(" ", ascii_text).split()


def _latin_tokens(text: str, script: str) -> tuple[list[str], str | None]:
    if script == "Hang":
        text = _hangul_to_latin(text)
    ascii_text = unidecode(text).lower()
    surname = None
    if ascii_text.count(",") == 1:
        # "SURNAME, Given" (list order): the first significant part before the comma is the family name.
        left, right = (_split_parts(part) for part in ascii_text.split(","))
        significant = [t for t in left if t not in SURNAME_PARTICLES]
        if 1 <= len(left) <= 3 and right and significant:
            surname = significant[0]
    tokens = _split_parts(ascii_text)
    if script == "Hang" and len(tokens) >= 2 and all(len(t) <= 5 for t in tokens):
        # Korean names: family name, then the given-name syllables as one word, as Latin writing usually has it.
        tokens = [tokens[0], "".join(tokens[1:])] if len(tokens) <= 4 else tokens
        surname = tokens[0]
    return tokens, surname


@lru_cache(maxsize=65536)
def normalize_name(text: str, name_type: NameType = "any") -> NameForm:
    """Prepare one written name for comparison (cached: list names and repeated queries cost nothing)."""
    text = unicodedata.normalize("NFKC", text).strip()
    script = detect_script(text)
    if script == "Hani":
        return _han_form(text, name_type)
    if script == "Jpan":
        text = " ".join(" ".join(_japanese_reading(part)) for part in text.split())
    tokens, surname = _latin_tokens(text, script)
    alternatives: tuple[tuple[str, ...], ...] = ()
    if script == "Hang" and len(tokens) >= 2:
        first_syllable = next((ch for ch in text if _HANGUL.match(ch)), "")
        alternatives = tuple((spelling, *tokens[1:]) for spelling in KOREAN_SURNAMES.get(first_syllable, ())
                             if spelling != tokens[0])
    acronym_source = [t for t in tokens if t not in STOPWORDS and t not in HONORIFICS]
    removed: list[str] = []
    if name_type == "person":
        # Only for a person: with type "any" the same words may be part of a name (Imam Hossein University,
        # Sea Star III); there they stay, at a low weight (vocab.base_weight).
        kept = [t for t in tokens if t not in HONORIFICS]
        if kept and len(kept) < len(tokens):
            removed += [t for t in tokens if t in HONORIFICS]
            tokens = kept
    if name_type != "person":
        stripped = _strip_sequences(tokens, (dropped := []))
        if tuple(stripped) not in _LEGAL_FORM_SET:  # a name that is nothing but a legal form stays as written
            tokens, removed = stripped, removed + dropped
    kept = [t for t in tokens if t not in STOPWORDS]
    if kept:
        tokens = kept
    if surname and surname not in tokens:
        surname = None
    acronyms: tuple[str, ...] = ()
    if name_type != "person" and len(tokens) >= 2:
        # Initials with and without the legal form: "China National Petroleum Corporation" is CNP and CNPC.
        with_form = "".join(t[0] for t in acronym_source)
        without = "".join(t[0] for t in tokens)
        acronyms = tuple(dict.fromkeys(a for a in (with_form, without) if len(a) >= 3))
    return NameForm(text, tuple(tokens), script, None, surname, tuple(removed), alternatives, acronyms)

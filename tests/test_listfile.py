"""The built-in list: valid, complete, every quote verbatim; bad files refused with every problem named."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import yaml

from screening.listfile import (MAX_REMARKS, ListTooLarge, ListValidationError, UnreadableList, load_list_file,
                                parse_native, text_defects)
from tests.conftest import IN_CI, ROOT, SHARED

EXPECTED_IDS = {"chen-quanguo", "zhu-hailun", "wang-mingshan", "huo-liujun", "xinjiang-public-security-bureau",
                "hu-lianhe", "gao-yan", "hangzhou-hikvision-digital-technology", "zhejiang-dahua-technology"}


@pytest.fixture(scope="module")
def document():  # type: ignore[no-untyped-def]
    return load_list_file()


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_nine_entries_with_stable_ids(document) -> None:  # type: ignore[no-untyped-def]
    assert {e.id for e in document.entries} == EXPECTED_IDS


def test_every_entry_cites_a_seed_article_verbatim(document) -> None:  # type: ignore[no-untyped-def]
    seeds_dir = SHARED / "seeds"
    if not seeds_dir.exists():
        if IN_CI:
            pytest.fail(f"{seeds_dir} is missing")
        pytest.skip("shared/seeds not beside the checkout")
    sources = {s.id: s for s in document.sources}
    for entry in document.entries:
        seed_quotes = 0
        for citation in entry.citations:
            holder = sources[citation.via or citation.source]
            if holder.seed is None:
                continue
            text = _squash((seeds_dir / holder.seed).read_text(encoding="utf-8"))
            assert _squash(citation.quote) in text, f"{entry.id}: quote not verbatim in {holder.seed}: {citation.quote}"
            seed_quotes += 1
        assert seed_quotes >= 1, f"{entry.id} cites no seed article"


def test_every_quote_names_its_subject(document) -> None:  # type: ignore[no-untyped-def]
    """A quote must name the entry: its surname, its Latin name, or an alias."""
    for entry in document.entries:
        words = set()
        for name in entry.names:
            words |= {w.lower() for w in re.findall(r"[A-Za-z]{3,}", name.name)}
        for citation in entry.citations:
            quote_words = {w.lower() for w in re.findall(r"[A-Za-z]{3,}", citation.quote)}
            assert words & quote_words, f"{entry.id}: quote does not name the subject: {citation.quote}"


@pytest.mark.parametrize("entry_id, field, expected", [
    ("chen-quanguo", "birth_dates", ["1955"]),
    ("zhu-hailun", "birth_dates", ["1958-01"]),
    ("wang-mingshan", "birth_dates", ["1964-01"]),
    ("huo-liujun", "birth_dates", ["1952"]),
    ("huo-liujun", "birth_places", []),
    ("hu-lianhe", "birth_dates", ["1967-10-04"]),
    ("gao-yan", "birth_dates", ["1963-04"]),
    ("chen-quanguo", "birth_places", ["Pingyu, Henan, China"]),
    ("hangzhou-hikvision-digital-technology", "status", "restricted"),
    ("zhejiang-dahua-technology", "status", "restricted"),
    ("xinjiang-public-security-bureau", "status", "designated"),
])
def test_facts_from_the_fact_sheet(document, entry_id: str, field: str, expected: object) -> None:  # type: ignore[no-untyped-def]
    entry = next(e for e in document.entries if e.id == entry_id)
    assert getattr(entry, field) == expected


def test_programs(document) -> None:  # type: ignore[no-untyped-def]
    by_id = {e.id: e for e in document.entries}
    for designee in ("chen-quanguo", "zhu-hailun", "wang-mingshan", "huo-liujun", "xinjiang-public-security-bureau",
                     "hu-lianhe", "gao-yan"):
        glomag = [m for m in by_id[designee].measures if m.program == "GLOMAG"]
        assert glomag and glomag[0].authority == "E.O. 13818" and glomag[0].date, designee
    assert "CMIC-EO13959" in by_id["hangzhou-hikvision-digital-technology"].programs
    assert "CMIC-EO13959" not in by_id["zhejiang-dahua-technology"].programs
    for company in ("hangzhou-hikvision-digital-technology", "zhejiang-dahua-technology"):
        assert {"CONGRESS-LETTER-2018", "ENTITY-LIST", "NDAA-889", "FCC-COVERED-LIST"} <= set(by_id[company].programs)


def test_script_forms_and_abbreviation(document) -> None:  # type: ignore[no-untyped-def]
    names = {e.id: {n.name for n in e.names} for e in document.entries}
    assert {"陈全国", "陳全國"} <= names["chen-quanguo"]
    assert "XPSB" in names["xinjiang-public-security-bureau"]
    assert "PUBLIC SECURITY DEPARTMENT OF XINJIANG UYGAR AUTONOMOUS REGION" in names["xinjiang-public-security-bureau"]


def test_bad_file_is_refused_with_every_problem_named(tmp_path: Path) -> None:
    raw = yaml.safe_load((ROOT / "lists" / "designations.yaml").read_text(encoding="utf-8"))
    raw["sources"] = yaml.safe_load((ROOT / "lists" / "sources.yaml").read_text(encoding="utf-8"))["sources"]
    raw["entries"][0]["birth_dates"] = ["1955-13"]
    raw["entries"][1]["type"] = "robot"
    raw["entries"][2]["citations"] = []
    raw["entries"][3]["citations"][0]["source"] = "no-such-source"
    raw["entries"][4]["id"] = raw["entries"][5]["id"]
    with pytest.raises(ListValidationError) as caught:
        parse_native(yaml.safe_dump(raw, allow_unicode=True))
    found = {(p.location, p.field) for p in caught.value.problems}
    assert ("entry chen-quanguo", "birth_dates") in found, found
    assert ("entry zhu-hailun", "type") in found, found
    assert ("entry wang-mingshan", "citations") in found, found
    assert ("entry huo-liujun", "source") in found, found
    assert any(p.field == "id" and "duplicate" in p.message for p in caught.value.problems), found


def test_unknown_field_and_two_primaries_are_refused() -> None:
    text = """
sources: [{id: s, title: T, publisher: P, kind: news}]
entries:
  - {id: x, type: person, colour: red, names: [{name: A, kind: primary}, {name: B, kind: primary}],
     citations: [{source: s, quote: A}]}
"""
    with pytest.raises(ListValidationError) as caught:
        parse_native(text)
    messages = " ".join(f"{p.field}: {p.message}" for p in caught.value.problems)
    assert "colour" in messages and "primary" in messages, messages


# --- Hardening: impossible dates, over-long fields, text no database stores alike, YAML bombs, zip bombs ---------

def _native(entry_changes: dict, source_changes: dict | None = None) -> str:  # type: ignore[type-arg]
    entry = {"id": "x", "type": "person", "names": [{"name": "A", "kind": "primary"}],
             "citations": [{"source": "s", "quote": "A"}], **entry_changes}
    return json.dumps({"sources": [{"id": "s", "title": "T", "publisher": "P", "kind": "news", **(source_changes or {})}],
                       "entries": [entry]})


def _problems(text: str, expected: type[ListValidationError] = ListValidationError) -> set[tuple[str, str]]:
    with pytest.raises(expected) as caught:
        parse_native(text)
    assert type(caught.value) is expected, (type(caught.value), caught.value)
    return {(p.location, p.field) for p in caught.value.problems}


def test_impossible_dates_are_refused_naming_the_field() -> None:
    assert parse_native(_native({"birth_dates": ["2020-02-29", "1999-12", "1960"]})).entries[0].birth_dates
    assert ("entry x", "birth_dates") in _problems(_native({"birth_dates": ["2020-02-31"]}))
    assert ("entry x", "birth_dates") in _problems(_native({"birth_dates": ["2019-02-29"]}))  # not a leap year
    measure = {"program": "P", "kind": "blocking", "date": "2021-04-31", "effective": "2021-06-31"}
    found = _problems(_native({"measures": [measure]}))
    assert {("entry x", "measures.0.date"), ("entry x", "measures.0.effective")} <= found, found
    assert ("source s", "published") in _problems(_native({}, {"published": "2023-09-31"}))
    # Unquoted in YAML, a date off the calendar used to crash PyYAML's timestamp constructor (a 500).
    yaml_text = "sources: [{id: s, title: T, publisher: P, kind: news, published: 2020-02-31}]\nentries: []\n"
    assert ("(body)", "(file)") in _problems(yaml_text)


def test_overlong_fields_are_refused_naming_the_field() -> None:
    assert ("entry x", "remarks") in _problems(_native({"remarks": "r" * (MAX_REMARKS + 1)}))
    assert parse_native(_native({"remarks": "r" * MAX_REMARKS})).entries[0].remarks
    found = _problems(_native({"birth_places": ["p" * 501], "names": [{"name": "A", "kind": "primary",
                                                                         "note": "n" * 2001}]}))
    assert {("entry x", "birth_places.0"), ("entry x", "names.0.note")} <= found, found


@pytest.mark.parametrize("bad, why", [("\x00", "NUL"), ("\ud800", "surrogate")])
def test_nul_and_lone_surrogates_anywhere_make_the_list_unreadable(bad: str, why: str) -> None:
    # json.dumps writes them escaped (\u0000, \ud800), as JSON and YAML must: only parsing makes the character.
    found = _problems(_native({"names": [{"name": "A" + bad, "kind": "primary"}]}), UnreadableList)
    assert found == {("entry x", "names.0.name")}, found
    assert _problems(_native({"remarks": "r" + bad}), UnreadableList) == {("entry x", "remarks")}
    assert _problems(_native({}, {"title": bad}), UnreadableList) == {("source s", "title")}
    assert _problems(_native({bad: 1}), UnreadableList) == {("entry x", ascii(bad))}
    if bad == "\x00":  # a raw NUL byte, not escaped: named by line
        assert _problems("entries: []\nsources: []\n# a\x00b\n", UnreadableList) == {("(body) line 3", "(line)")}


def test_yaml_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]  # 10^8 values when walked
    # In the list's metadata, which is stored as JSON: serializing it would write 10^8 values.
    text = "\n".join(lines) + "\nlist: {notes: *a7}\nsources: []\nentries: []\n"
    start = time.perf_counter()
    with pytest.raises(ListTooLarge):
        parse_native(text)
    assert time.perf_counter() - start < 5, "the alias bomb was walked"


def test_text_defects_walks_every_string_and_key() -> None:
    value = {"a": ["ok", "b\x00"], "c\ud800": {"d": "\udfff"}, "e": 5, "f": None}
    found = dict(text_defects(value))
    assert found == {"a.1": "contains a NUL character", ascii("c\ud800"): "field name contains a lone surrogate "
                     "(not Unicode text)", f"{ascii('c' + chr(0xD800))}.d": "contains a lone surrogate (not Unicode text)"}, found
    deep: list = []  # type: ignore[type-arg]
    for _ in range(100_000):  # deeper than any recursion limit
        deep = [deep]
    assert list(text_defects(deep)) == []

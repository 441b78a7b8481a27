"""Retrieval never loses a match: the bound it orders names by is a true upper bound of the score, and a single
edit of a name in a list of near-duplicates still brings the name back in the top 10."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import pytest

from bench.neardup import KINDS, neardup_entries, single_edits
from screening.matching import Matcher, normalize_name
from screening.matching.index import SCORE_ALL_BELOW
from screening.matching.score import score_forms

DATA = Path(__file__).parent / "data"


def _labelled_names() -> dict[str, str]:
    """Every name of the labelled sets, with its type: persons and organizations in many scripts and forms."""
    names: dict[str, str] = {}
    for file in ("name_pairs.csv", "name_pairs_holdout.csv"):
        with open(DATA / file, encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                kind = "person" if row["type"] == "person" else "organization"
                names.setdefault(row["query"], kind)
                names.setdefault(row["candidate"], kind)
    with open(DATA / "cross_script_pairs.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            names.setdefault(row["query"], "person")
            names.setdefault(row["expected"], "person")
    return names


@pytest.fixture(scope="module")
def labelled_matcher() -> tuple[Matcher, dict[str, str]]:
    names = _labelled_names()
    entries = [{"id": f"n{i}", "type": kind, "status": "designated", "names": [{"name": name, "kind": "primary"}],
                "citations": [{"source": "test", "quote": name}]} for i, (name, kind) in enumerate(names.items())]
    matcher = Matcher(entries)
    assert len(matcher.records) > SCORE_ALL_BELOW, "retrieval must be in use, not scoring the list whole"
    return matcher, names


def test_the_retrieval_bound_is_an_upper_bound_of_every_score(labelled_matcher) -> None:  # type: ignore[no-untyped-def]
    matcher, names = labelled_matcher
    rng = random.Random(4)
    violations, scored = [], 0
    for query, kind in rng.sample(sorted(names.items()), 45):
        form = normalize_name(query, kind)  # type: ignore[arg-type]
        support, bound = matcher.retrieval_bound(form)
        bounds = dict(zip(support.tolist(), bound.tolist()))
        for rid, record in enumerate(matcher.records):
            person = matcher.entries[record.entry_idx].type == "person"
            score = score_forms(form, record.form, is_person=person, weigh=matcher.weigh).score
            if score > 0:
                scored += 1
                if bounds.get(rid, 0.0) + 1e-5 < score:
                    violations.append((query, record.name, score, bounds.get(rid)))
    assert scored > 500 and not violations, violations[:10]


def test_screening_with_retrieval_equals_scoring_the_whole_list(labelled_matcher,  # type: ignore[no-untyped-def]
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from screening.matching import index

    matcher, names = labelled_matcher
    rng = random.Random(8)
    queries = rng.sample(sorted(names.items()), 40)

    def results() -> list[list[tuple[str, float]]]:
        return [[(m.entry_id, m.score) for m in matcher.screen(q, type=kind, threshold=0.6, limit=5)[1]]
                for q, kind in queries]

    retrieved = results()
    monkeypatch.setattr(index, "SCORE_ALL_BELOW", 10**9)
    assert results() == retrieved
    assert sum(map(len, retrieved)) > 40


@pytest.mark.parametrize("table_rows", [200_000, 50])
def test_a_batch_of_queries_gets_the_bounds_and_answers_each_gets_alone(labelled_matcher, table_rows: int,  # type: ignore[no-untyped-def]
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Matcher.screen_many computes the bounds of a batch together (bound.py), in tables of at most TABLE_ROWS
    rows: the same floats, the same matches, for names of every script and length, repeated parts, initials, and
    with birth dates and countries."""
    from screening.matching import bound
    from screening.matching.index import ScreenQuery

    monkeypatch.setattr(bound, "TABLE_ROWS", table_rows)

    matcher, names = labelled_matcher
    rng = random.Random(12)
    sample = rng.sample(sorted(names.items()), 300) + [("Michelle Michelle Obama", "person"), ("J. R. Smith", "any")]
    queries = [ScreenQuery(name, kind, rng.choice([None, "1961-05-13"]), rng.choice([None, "CN", "US"]))
               for name, kind in sample]
    forms = [normalize_name(q.name, q.type) for q in queries]
    for (support, bound), form in zip(matcher.retrieval_bounds(forms), forms):
        alone_support, alone_bound = matcher.retrieval_bound(form)
        assert support.tolist() == alone_support.tolist() and bound.tolist() == alone_bound.tolist(), form.normalized
    together = matcher.screen_many(queries, threshold=0.6, limit=20)
    alone = [matcher.screen(q.name, type=q.type, birth_date=q.birth_date, country=q.country, threshold=0.6,
                            limit=20) for q in queries]
    assert [[(m.entry_id, m.score) for m in found] for _, found in together] == \
        [[(m.entry_id, m.score) for m in found] for _, found in alone]
    assert sum(len(found) for _, found in together) > 300


@pytest.fixture(scope="module")
def neardup() -> tuple[Matcher, list[dict]]:  # type: ignore[type-arg]
    entries = list(neardup_entries(20_000, seed=3))
    return Matcher(entries), entries


def test_every_kind_of_single_edit_comes_back_in_the_top_10(neardup) -> None:  # type: ignore[no-untyped-def]
    matcher, entries = neardup
    queries = single_edits(entries, names=80, per_kind=2, seed=5)
    missed = {kind: [] for kind in KINDS}  # type: ignore[var-annotated]
    for query, entry_id, kind_of_entry, kind in queries:
        _, matches = matcher.screen(query, type=kind_of_entry, limit=10)
        if entry_id not in {m.entry_id for m in matches}:
            missed[kind].append(query)
    total = sum(len(v) for v in missed.values())
    assert total <= 0.015 * len(queries), missed


def test_ties_rank_the_same_order_and_legal_form_first() -> None:
    entries = list(neardup_entries(600, seed=9))
    entries += [
        {"id": "reordered", "type": "person", "status": "designated",
         "names": [{"name": "Karimi Ahmed Zafar", "kind": "primary"}], "citations": [{"source": "t", "quote": "x"}]},
        {"id": "in-order", "type": "person", "status": "designated",
         "names": [{"name": "Ahmed Zafar Karimi", "kind": "primary"}], "citations": [{"source": "t", "quote": "x"}]},
        {"id": "other-form", "type": "organization", "status": "designated",
         "names": [{"name": "Zafaran Trading LLC", "kind": "primary"}], "citations": [{"source": "t", "quote": "x"}]},
        {"id": "same-form", "type": "organization", "status": "designated",
         "names": [{"name": "Zafaran Trading Ltd", "kind": "primary"}], "citations": [{"source": "t", "quote": "x"}]},
    ]
    matcher = Matcher(entries)
    _, persons = matcher.screen("Ahmed Zafar Karimi", type="person")
    assert [m.entry_id for m in persons[:2]] == ["in-order", "reordered"], persons
    assert persons[0].score == persons[1].score
    _, companies = matcher.screen("Zafaran Trading Limited", type="organization")
    assert [m.entry_id for m in companies[:2]] == ["same-form", "other-form"], companies


def test_retrieval_scores_only_what_can_pass(neardup) -> None:  # type: ignore[no-untyped-def]
    matcher, entries = neardup
    form = normalize_name(entries[0]["names"][0]["name"], entries[0]["type"])
    support, bound = matcher.retrieval_bound(form)
    assert 0 < len(matcher.candidates(form)) < len(support) and np.all(bound <= 1.0)


def _edited(text: str, edits: int, rng: random.Random) -> str:
    """The text after this many edits of any kind (substitution, insertion, deletion, adjacent transposition)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    for _ in range(edits):
        at = rng.randrange(len(text))
        kind = rng.choice("sidt")
        if kind == "s":
            text = text[:at] + rng.choice(letters) + text[at + 1:]
        elif kind == "i":
            text = text[:at] + rng.choice(letters) + text[at:]
        elif kind == "d":
            text = text[:at] + text[at + 1:]
        elif at + 1 < len(text):
            text = text[:at] + text[at + 1] + text[at] + text[at + 2:]
    return text


def test_a_long_joined_unit_finds_every_unit_within_its_edits() -> None:
    """PairIndex._close_spelled (joined units of 12 to 40 letters) against brute force: every unit within
    MERGED_EDITS of the text's length in OSA distance is found, transpositions across its segments included."""
    from rapidfuzz.distance import OSA

    from screening.matching.vocabulary import MERGED_EDITS, SEGMENT_TEXT, PairIndex

    rng = random.Random(11)
    letters = "aeioubdhklmnrst"  # few letters: many units share pieces, as names do
    texts = ["".join(rng.choice(letters) for _ in range(rng.randint(SEGMENT_TEXT[0], SEGMENT_TEXT[1])))
             for _ in range(300)]
    texts += [_edited(t, rng.randint(1, int(MERGED_EDITS * len(t))), rng) for t in texts for _ in range(4)]
    texts += ["short", "abc", "x" * 60]  # outside the lengths it indexes
    index = PairIndex(texts, list(range(len(texts))))
    for query in texts[:300] + [_edited(t, 2, rng) for t in texts[:100]]:
        if not SEGMENT_TEXT[0] <= len(query) <= SEGMENT_TEXT[1]:
            continue
        edits = int(MERGED_EDITS * len(query))
        near = {v for v, t in enumerate(texts) if OSA.distance(query, t) <= edits}
        found = set(index.sharing(query, True).tolist())
        assert near <= found, (query, [texts[v] for v in near - found])

"""Matcher speed and recall on a large list (in process, one core).

    python -m bench.matcher_speed [--entries 200000] [--planted 1000] [--recall-queries 30]

Prints: pair comparisons per second (part-similarity cache cleared each round), index build time, screening
latency p50/p99, the share of planted misspellings found at the default threshold, and the recall of candidate
retrieval against scoring every name of the list.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import time
from pathlib import Path

from screening.matching import DEFAULT_THRESHOLD, Matcher, normalize_name
from screening.matching.parts import part_similarity
from screening.matching.score import calibrate, score_forms

from .synthetic import misspell, synthetic_entries

PAIRS = Path(__file__).resolve().parent.parent / "tests" / "data" / "name_pairs.csv"


def pair_rate(seconds: float = 3.0) -> float:
    with open(PAIRS, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    forms = [(normalize_name(r["query"], r["type"]), normalize_name(r["candidate"], r["type"]), r["type"] == "person")
             for r in rows]
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        part_similarity.cache_clear()  # every round computes its edit distances afresh
        for query, listed, is_person in forms:
            score_forms(query, listed, is_person=is_person)
        done += len(forms)
    return done / (time.perf_counter() - start)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--planted", type=int, default=1000)
    parser.add_argument("--recall-queries", type=int, default=30)
    args = parser.parse_args()

    print(f"pair comparisons: {pair_rate():,.0f}/s on one core (labelled pairs, cold part cache each round)")

    entries = list(synthetic_entries(args.entries))
    start = time.perf_counter()
    matcher = Matcher(entries)
    build = time.perf_counter() - start
    print(f"index: {len(matcher.entries):,} entries, {len(matcher.records):,} names built in {build:.1f} s")

    rng = random.Random(7)
    planted = rng.sample(entries, args.planted)
    found, latencies = 0, []
    queries = []
    for entry in planted:
        query = misspell(entry["names"][0]["name"], rng)
        queries.append((query, entry))
        start = time.perf_counter()
        _, matches = matcher.screen(query, type=entry["type"], limit=100)
        latencies.append((time.perf_counter() - start) * 1000)
        found += any(m.entry_id == entry["id"] for m in matches)
    print(f"planted misspellings found at threshold {DEFAULT_THRESHOLD}: {found}/{len(planted)} "
          f"({100 * found / len(planted):.1f}%)")
    print(f"screen latency in process: p50 {statistics.median(latencies):.1f} ms, "
          f"p99 {percentile(latencies, 0.99):.1f} ms")

    # Retrieval recall: does the index hand the scorer every name that scoring the whole list would match? With
    # more matches than the limit, the names tied at the limit-th score are interchangeable: every name scoring
    # above it must be returned, and the scores returned must be the best `limit` scores.
    limit = 100
    wanted = got = same = 0
    for query, entry in queries[: args.recall_queries]:
        form = normalize_name(query, entry["type"])
        # Scoring every name of the query's type, as the matcher would, and calibrated the same way.
        everything: dict[str, float] = {}
        for record in matcher.records:
            info = matcher.entries[record.entry_idx]
            if info.type == entry["type"]:
                score = round(calibrate(score_forms(form, record.form, is_person=info.type == "person",
                                                    weigh=matcher.weigh, weak=record.kind == "weak").score), 3)
                if score >= DEFAULT_THRESHOLD and score > everything.get(info.id, 0.0):
                    everything[info.id] = score
        _, matches = matcher.screen(query, type=entry["type"], limit=limit)
        ranked = sorted(everything.values(), reverse=True)
        cutoff = ranked[limit - 1] if len(ranked) >= limit else 0.0
        must = {e for e, score in everything.items() if score > cutoff or len(ranked) < limit}
        wanted += len(must)
        got += len(must & {m.entry_id for m in matches})
        same += sorted((m.score for m in matches), reverse=True) == ranked[:limit]
    queries_run = min(args.recall_queries, len(queries))
    if queries_run:
        print(f"candidate retrieval vs scoring all names, over {queries_run} queries (limit {limit}): "
              f"{got}/{wanted} names above the limit's score returned ({100 * got / max(1, wanted):.1f}%); "
              f"the best {limit} scores returned for {same}/{queries_run}")
    found, expected = labelled_positives_retrieved()
    print(f"labelled positive pairs found inside a 20,000-entry list: {found}/{expected} "
          f"(pairs the scorer matches when compared alone)")


def labelled_positives_retrieved(padding: int = 20_000) -> tuple[int, int]:
    """Every `same` pair of the labelled sets, its list name hidden among `padding` synthetic entries: is it
    still found by the query (retrieval and scoring), as it is when compared alone?"""
    rows = []
    for name in ("name_pairs.csv", "name_pairs_holdout.csv"):
        with open(PAIRS.with_name(name), encoding="utf-8") as handle:
            rows += [r for r in csv.DictReader(handle) if r["label"] == "1"]
    entries = list(synthetic_entries(padding, seed=13))
    for i, row in enumerate(rows):
        kind = "person" if row["type"] == "person" else "organization"
        entries.append({"id": f"pair-{i}", "type": kind, "status": "designated",
                        "names": [{"name": row["candidate"], "kind": "primary"}],
                        "citations": [{"source": "pairs", "quote": row["candidate"]}]})
    matcher = Matcher(entries)
    expected = found = 0
    for i, row in enumerate(rows):
        alone = Matcher([entries[padding + i]]).screen(row["query"], type=row["type"])[1]  # type: ignore[arg-type]
        if not alone:
            continue  # a pair the scorer misses anyway: not retrieval's doing
        expected += 1
        _, matches = matcher.screen(row["query"], type=row["type"], limit=100)  # type: ignore[arg-type]
        found += any(m.entry_id == f"pair-{i}" for m in matches)
    return found, expected


if __name__ == "__main__":
    main()

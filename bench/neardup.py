"""A list of many near-duplicates, and every kind of single edit of its names.

The names are built from a small vocabulary (bench/synthetic.py's given names, surnames and patronymics, a hundred
company words and places, the legal forms), so each name is unique while its parts are shared by thousands of
others: the hard case for retrieval, where a part found says little. `single_edits` makes the one-letter
variants of a name: an insertion, a deletion, a substitution or a transposition of adjacent letters, at any
position of any part.

    python -m bench.neardup [--entries 200000] [--names 300] [--per-kind 3]

prints the share of variants whose entry comes back in the top 10 (limit 10, default threshold) and the in-process
latency; bench/http_load.py --list neardup serves the same list over HTTP.
"""

from __future__ import annotations

import argparse
import random
import string
import time
from typing import Any, Iterator

from .synthetic import (ARABIC_FAMILY, ARABIC_GIVEN, CHINESE_FAMILY, CHINESE_SYLLABLES, LEGAL_FORMS, ORG_GENERIC,
                        ORG_PLACES, RUSSIAN_FAMILY, RUSSIAN_GIVEN, SPANISH_FAMILY, SPANISH_GIVEN, WESTERN_FAMILY,
                        WESTERN_GIVEN)

BRANDS = ("atlas orion delta vega nova apex zenith sigma titan polaris aurora horizon summit pioneer vertex "
          "falcon condor phoenix meridian pacific baltic caspian arctic oasis crescent emerald sapphire granite "
          "cobalt "
          "quantum vector matrix fusion stellar lunar solaris terra aqua ignis borealis cascade liberty unity "
          "triumph victory sterling royal imperial grand golden silver crystal diamond").split()
KINDS = ("insertion", "deletion", "substitution", "transposition")


def _person(rng: random.Random) -> str:
    style = rng.random()
    if style < 0.25:
        return f"{rng.choice(WESTERN_FAMILY).upper()}, {rng.choice(WESTERN_GIVEN).title()} " \
               f"{rng.choice(WESTERN_GIVEN).title()}"
    if style < 0.45:
        patronymic = rng.choice(RUSSIAN_GIVEN).rstrip("iy") + rng.choice(["ovich", "evich"])
        return f"{rng.choice(RUSSIAN_FAMILY).upper()}, {rng.choice(RUSSIAN_GIVEN).title()} {patronymic.title()}"
    if style < 0.65:
        return f"{rng.choice(ARABIC_GIVEN).title()} {rng.choice(ARABIC_GIVEN).title()} " \
               f"{rng.choice(ARABIC_GIVEN).title()} {rng.choice(ARABIC_FAMILY).title()}"
    if style < 0.85:
        return f"{rng.choice(SPANISH_FAMILY).upper()} {rng.choice(SPANISH_FAMILY).upper()}, " \
               f"{rng.choice(SPANISH_GIVEN).title()}"
    given = rng.choice(CHINESE_SYLLABLES) + rng.choice(CHINESE_SYLLABLES)
    return f"{rng.choice(CHINESE_FAMILY).upper()}, {given.title()}"


def _organization(rng: random.Random) -> str:
    words = rng.sample(BRANDS, rng.choice([1, 2])) + rng.sample(ORG_GENERIC, rng.choice([1, 2]))
    if rng.random() < 0.4:
        words.insert(0, rng.choice(ORG_PLACES))
    return (" ".join(words) + " " + rng.choice(LEGAL_FORMS)).strip().upper()


def neardup_entries(count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """`count` entries with distinct names from the small vocabulary."""
    rng = random.Random(seed)
    seen: set[str] = set()
    while len(seen) < count:
        is_person = rng.random() < 0.7
        name = _person(rng) if is_person else _organization(rng)
        if name in seen:
            continue
        seen.add(name)
        yield {"id": f"nd-{len(seen) - 1}", "type": "person" if is_person else "organization",
               "status": "designated", "names": [{"name": name, "kind": "primary"}], "programs": ["SYNTHETIC"],
               "citations": [{"source": "synthetic", "quote": name}]}


def single_edit(name: str, kind: str, rng: random.Random) -> str:
    """One edit of one kind at a random letter of the name (any part)."""
    letters = [i for i, ch in enumerate(name) if ch.isalpha()]
    if kind == "transposition":
        letters = [i for i in letters if i + 1 < len(name) and name[i + 1].isalpha() and name[i] != name[i + 1]]
    at = rng.choice(letters)
    pick = rng.choice([c for c in string.ascii_uppercase if c != name[at].upper()])
    if kind == "insertion":
        return name[:at] + pick + name[at:]
    if kind == "deletion":
        return name[:at] + name[at + 1:]
    if kind == "substitution":
        return name[:at] + pick + name[at + 1:]
    return name[:at] + name[at + 1] + name[at] + name[at + 2:]


def single_edits(entries: list[dict[str, Any]], names: int, per_kind: int,
                 seed: int = 11) -> list[tuple[str, str, str, str]]:
    """(query, entry id, entry type, kind of edit) for `names` entries, `per_kind` variants of each kind."""
    rng = random.Random(seed)
    out = []
    for entry in rng.sample(entries, names):
        name = entry["names"][0]["name"]
        for kind in KINDS:
            for _ in range(per_kind):
                out.append((single_edit(name, kind, rng), entry["id"], entry["type"], kind))
    return out


def main() -> None:
    from screening.matching import Matcher
    from screening.matching.text import load_converters

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--names", type=int, default=300)
    parser.add_argument("--per-kind", type=int, default=3)
    args = parser.parse_args()
    load_converters()
    entries = list(neardup_entries(args.entries))
    start = time.perf_counter()
    matcher = Matcher(entries)
    print(f"near-duplicate list: {len(entries):,} entries, {len(matcher.vocabulary):,} distinct parts and joins, "
          f"built in {time.perf_counter() - start:.1f} s")
    queries = single_edits(entries, args.names, args.per_kind)
    found: dict[str, list[bool]] = {kind: [] for kind in KINDS}
    latencies = []
    missed = []
    for query, entry_id, kind_of_entry, kind in queries:
        start = time.perf_counter()
        _, matches = matcher.screen(query, type=kind_of_entry, limit=10)  # type: ignore[arg-type]
        latencies.append((time.perf_counter() - start) * 1000)
        hit = entry_id in {m.entry_id for m in matches}
        found[kind].append(hit)
        if not hit:
            missed.append(query)
    latencies.sort()
    total = sum(sum(v) for v in found.values())
    print(f"single-edit variants in the top 10: {total}/{len(queries)} ({100 * total / len(queries):.1f}%); "
          + ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in found.items()))
    print(f"in process, one core: p50 {latencies[len(latencies) // 2]:.1f} ms, "
          f"p99 {latencies[int(0.99 * (len(latencies) - 1))]:.1f} ms, max {latencies[-1]:.1f} ms")
    for query in missed[:20]:
        print(f"  missed: {query}")


if __name__ == "__main__":
    main()

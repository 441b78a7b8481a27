"""The retrieval bound (index.Matcher.retrieval_bounds) of many queries at once.

A query's bound is a few dozen numpy operations over the few hundred list names its parts meet; one at a time,
calling them costs more than their arithmetic. Here the names every query of a batch meets are laid end to end,
and each reading's credits fill one table per number of parts, so a batch of hundreds of queries takes about as
many calls as one. The arithmetic, and the order of every sum, are those of a query alone, so the bounds are the
same floats whichever batch a query comes in.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .score import (CONTRADICTION_WEIGHT, MIN_LEFTOVER_SHARE, OMISSION_LIMIT, PERSON_SUBSTITUTION_FACTOR,
                    SUBSTITUTION_COST)
from .vocabulary import distinct


class UnitCredit(NamedTuple):
    """Where a query unit finds partners: list names (ids, ascending, once each), the best similarity there, the
    heaviest partner's weight, and how many partners each name holds."""

    ids: np.ndarray
    similarity: np.ndarray
    weight: np.ndarray
    partners: np.ndarray


class Reading(NamedTuple):
    """One reading of a query of the batch: its parts, their weights, and the units of its parts that met names."""

    query: int
    tokens: tuple[str, ...]
    group: str
    weights: list[float]
    units: list[tuple[int, int, UnitCredit]]  # (first part, end, credit)


class ListArrays(NamedTuple):
    """Per list name: the weight of its heaviest part, of its lightest and heaviest readings, and whether an entry
    of a person holds it."""

    top_part: np.ndarray
    w_min: np.ndarray
    w_max: np.ndarray
    person: np.ndarray


Bound = tuple[np.ndarray, np.ndarray]  # the names a query may score anything for, and each one's bound
# Rows of (reading, name) pairs in one table at most: a batch of names that each meet thousands of list names (common
# Arabic given names against a list of many) is cut into tables of a few tens of MB.
TABLE_ROWS = 200_000


def bounds(queries: int, readings: list[Reading], forced: list[dict[int, float]], lists: ListArrays) -> list[Bound]:
    """Each query's names and bounds (see Matcher.retrieval_bound for what is bounded and why)."""
    records = len(lists.w_max)
    # The names each query meets, as one sorted array of query * records + name: a query's names are one slice.
    pieces = [unit.ids.astype(np.int64) + r.query * records for r in readings for _, _, unit in r.units]
    pieces += [np.asarray(sorted(f), dtype=np.int64) + q * records for q, f in enumerate(forced) if f]
    empty = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))
    if not pieces:
        return [empty] * queries
    keys = distinct(np.concatenate(pieces))
    edges = np.searchsorted(keys, np.arange(queries + 1, dtype=np.int64) * records).tolist()
    supports = [(keys[edges[q]:edges[q + 1]] - q * records).astype(np.int32) for q in range(queries)]
    best = [np.zeros(len(s), dtype=np.float32) for s in supports]
    by_size: dict[int, list[list[Reading]]] = {}  # parts -> tables of readings of that many parts
    rows: dict[int, int] = {}
    for reading in readings:
        count = len(supports[reading.query])
        if not count:
            continue
        size = len(reading.tokens)
        tables = by_size.setdefault(size, [[]])
        if rows.get(size, 0) + count > TABLE_ROWS and tables[-1]:
            tables.append([])
            rows[size] = 0
        tables[-1].append(reading)
        rows[size] = rows.get(size, 0) + count
    for size, tables in by_size.items():
        for table in tables:
            values = _reading_bounds(size, table, supports, lists)
            start = 0
            for reading in table:
                count = len(supports[reading.query])
                best[reading.query] = np.maximum(best[reading.query], values[start:start + count])
                start += count
    out = []
    for q, (support, bound) in enumerate(zip(supports, best)):
        if not len(support):
            out.append(empty)
            continue
        for rid, value in sorted(forced[q].items()):
            at = int(np.searchsorted(support, rid))
            bound[at] = max(bound[at], value)
        out.append((support, np.minimum(bound, 1.0)))
    return out


def _reading_bounds(size: int, group: list[Reading], supports: list[np.ndarray], lists: ListArrays) -> np.ndarray:
    """The bound of every (reading, name) pair of readings of `size` parts, reading after reading: a table with a
    row per pair and a column per part."""
    counts = [len(supports[r.query]) for r in group]
    rows = sum(counts)
    ids = np.concatenate([supports[r.query] for r in group])
    starts = np.cumsum([0] + counts[:-1]).tolist()
    credit = np.zeros((rows, size), dtype=np.float32)
    # reach[k]: the heaviest list unit a query unit holding part k can meet, shared out over the unit's parts. Units
    # aligned are disjoint and each weighs no more than the reach of its parts together, so the matched list weight
    # is at most the sum of the parts' reaches.
    reach = np.zeros((rows, size), dtype=np.float32)
    cells: list[np.ndarray] = []
    sims: list[np.ndarray] = []
    shares: list[np.ndarray] = []
    for reading, start, count in zip(group, starts, counts):
        support = supports[reading.query]
        for k, token in enumerate(reading.tokens):
            if len(token) == 1 and reading.group != "han":  # an initial, or the same letter alone
                credit[start:start + count, k] = 1.0
                reach[start:start + count, k] = lists.top_part[support]
        for first_part, end, unit in reading.units:
            at = start + np.searchsorted(support, unit.ids)
            for k in range(first_part, end):
                cells.append(at * size + k)
                sims.append(unit.similarity)
                shares.append(unit.weight / (end - first_part))
    if cells:
        flat = np.concatenate(cells)
        np.maximum.at(credit.reshape(-1), flat, np.concatenate(sims))
        np.maximum.at(reach.reshape(-1), flat, np.concatenate(shares))
    for reading, start, count in zip(group, starts, counts):
        if len(set(reading.tokens)) < size:
            _repeated_parts(reading, supports[reading.query], credit[start:start + count],
                            reach[start:start + count])
    part_weight = np.asarray([r.weights for r in group], dtype=np.float32).repeat(counts, axis=0)
    # Each distinct part left without credit counts once (a repeated part costs nothing once its twin met); as the
    # reading's own floats (double), as a query alone adds them.
    firsts = [[r.tokens.index(token) == k for k, token in enumerate(r.tokens)] for r in group]
    weights = np.asarray([[w if first else 0.0 for w, first in zip(r.weights, f)] for r, f in zip(group, firsts)],
                         dtype=np.float64).repeat(counts, axis=0)
    substitution = np.asarray([[max(w, SUBSTITUTION_COST) if first else 0.0 for w, first in zip(r.weights, f)]
                               for r, f in zip(group, firsts)], dtype=np.float64).repeat(counts, axis=0)
    gained = _sum_columns(credit * part_weight)
    aligned = _sum_columns((credit > 0) * part_weight)
    uncredited = np.zeros(rows, dtype=np.float32)
    substituted = np.zeros(rows, dtype=np.float32)
    for k in range(size):
        missing = credit[:, k] == 0
        uncredited += missing * weights[:, k]
        substituted += missing * substitution[:, k]
    matched_list = np.minimum(_sum_columns(reach), lists.w_max[ids])
    left_list = np.maximum(lists.w_min[ids] - matched_list, 0.0)
    # Left-overs outweighing what can agree cost in full (score.OMISSION_LIMIT).
    share = np.where(uncredited + left_list > OMISSION_LIMIT * (aligned + matched_list) / 2 + 1e-3, 1.0,
                     MIN_LEFTOVER_SHARE)
    omission = (gained + matched_list) / np.maximum(aligned + matched_list + share * (uncredited + left_list), 1e-9)
    contradiction = (gained + matched_list) / np.maximum(aligned + matched_list + substituted + left_list, 1e-9)
    contradiction *= np.where(lists.person[ids], PERSON_SUBSTITUTION_FACTOR, 1.0)
    # (A thousandth of slack: these weights are single-precision sums, the scorer's are double.)
    certain = (uncredited > CONTRADICTION_WEIGHT + 1e-3) & (left_list > CONTRADICTION_WEIGHT + 1e-3)
    return np.where(certain, contradiction, omission)


def _sum_columns(table: np.ndarray) -> np.ndarray:
    """Row sums, adding the columns left to right (the order a query alone sums its parts in)."""
    total = table[:, 0].copy()
    for k in range(1, table.shape[1]):
        total += table[:, k]
    return total


def _repeated_parts(reading: Reading, support: np.ndarray, credit: np.ndarray, reach: np.ndarray) -> None:
    """A part repeated in the query (Michelle Michelle) meets as many list units as the name holds for it; a copy
    left over costs nothing (its twin met), so it counts neither way."""
    partners: dict[int, np.ndarray] = {}  # part -> how many list units each name holds for it
    joined = np.zeros(credit.shape, dtype=bool)  # in a joined unit that meets it
    for first_part, end, unit in reading.units:
        at = np.searchsorted(support, unit.ids)
        if end - first_part == 1:
            partners[first_part] = np.zeros(len(support), dtype=np.int32)
            partners[first_part][at] = unit.partners
        else:
            joined[at, first_part:end] = True
    first: dict[str, int] = {}
    copies: dict[str, int] = {}
    for k, token in enumerate(reading.tokens):
        if token in first and first[token] in partners:
            copies[token] = copies.get(token, 0) + 1
            present = (partners[first[token]] > copies[token]) | joined[:, k]
            credit[:, k] *= present
            reach[:, k] *= present
        first.setdefault(token, k)

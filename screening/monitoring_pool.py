"""Screening a large monitoring run on several processes.

A run's database work (loading subjects, opening and clearing alerts, checkpoints) stays in the runner; only the
name screening, ~1 ms a subject, moves to a pool of processes which screen the chunks ahead of it. Their results go
into the run's screen memo, keyed by everything a screening depends on (name, type, birth date, country): a subject
edited after its chunk was sent no longer has that key and is screened again by the runner, so the pool only ever
makes a run faster, never different.

The processes are started with "spawn", not forked: the runner is a thread inside a gunicorn worker, and a fork of
a threaded process copies locks other threads may hold. Each process loads the run's list version itself, from the
index cache file when there is one (a fifth of a second for the OFAC export), so nothing large is pickled across.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Iterator

from .db import sqlite_file
from .liststate import ListSnapshot
from .matching import Matcher, ScreenQuery

log = logging.getLogger(__name__)

ScreenKey = tuple[str, str, str | None, str | None]  # name, type, birth date, country
Screened = tuple[Any, list[Any]]  # the query's NameForm (None when nothing matched) and its matches

# Below this many subjects, starting the processes (about two seconds: imports and the index) costs more than it saves.
POOL_MIN_SUBJECTS = 5000
CHUNKS_AHEAD_PER_PROCESS = 2

_snapshot: ListSnapshot | None = None


def pool_processes(config: Any, subjects: int, database_url: str) -> int:
    """How many processes a run of this many subjects screens on (1: in the runner itself)."""
    configured = config.get("MONITORING_PROCESSES") or os.cpu_count() or 1
    # Another process cannot open an in-memory SQLite database (nor one SQLite opens by URI, which may be too).
    in_memory = database_url.startswith("sqlite") and sqlite_file(database_url) is None
    if configured <= 1 or subjects < POOL_MIN_SUBJECTS or in_memory:
        return 1
    return int(configured)


def _load(database_url: str, version: int, cache_dir: str | None) -> None:
    """Process initializer: the run's list version, from the index cache when it holds it."""
    global _snapshot
    from pathlib import Path

    from sqlalchemy.orm import Session

    from .db import make_engine
    from .liststate import build_snapshot

    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            _snapshot = build_snapshot(session, version, Path(cache_dir) if cache_dir else None)
    finally:
        engine.dispose()


def screen_keys(matcher: Matcher, keys: list[ScreenKey], threshold: float) -> list[Screened]:
    """How a run screens its subjects, in the runner or in a pool process: every hit (up to 100), together."""
    return matcher.screen_many([ScreenQuery(*key) for key in keys], threshold=threshold, limit=100)


def _screen_chunk(keys: list[ScreenKey], threshold: float) -> dict[ScreenKey, Screened]:
    assert _snapshot is not None, "the pool's initializer did not run"
    # (A query without matches is never shown: not sent back.)
    return {key: (query if matches else None, matches)
            for key, (query, matches) in zip(keys, screen_keys(_snapshot.matcher, keys, threshold))}


def _ready() -> None:
    """Nothing: a task that makes the executor start a process."""


class ScreenPool:
    """Processes screening a run's chunks ahead of the runner, in order."""

    def __init__(self, processes: int, database_url: str, version: int, cache_dir: str | None) -> None:
        import multiprocessing

        self.processes = processes
        self._executor = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_load, initargs=(database_url, version, cache_dir))

    def start(self) -> ScreenPool:
        """Start every process now (the executor would start them at the first chunks): they load the list while
        the runner selects the subjects."""
        for _ in range(self.processes):
            self._executor.submit(_ready)
        return self

    def ahead(self, chunks: list[list[ScreenKey]], threshold: float) -> Iterator[dict[ScreenKey, Screened]]:
        """Each chunk's results, in order, with a few chunks in flight (memory stays flat in the run's size). Stops
        early if the pool breaks: the caller screens what has no result."""
        pending: deque[Future[dict[ScreenKey, Screened]]] = deque()
        upcoming = iter(chunks)
        try:
            for chunk in upcoming:
                pending.append(self._executor.submit(_screen_chunk, chunk, threshold))
                if len(pending) >= CHUNKS_AHEAD_PER_PROCESS * self.processes:
                    break
            while pending:
                done = pending.popleft().result()
                if (chunk := next(upcoming, None)) is not None:
                    pending.append(self._executor.submit(_screen_chunk, chunk, threshold))
                yield done
        except BrokenProcessPool as exc:
            # A process killed (out of memory, say) or unable to start: the runner screens the rest itself, slower
            # but to the same result, rather than failing a run that would fail again the same way.
            log.warning("monitoring pool broken (%s); the runner screens the remaining subjects itself", exc)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

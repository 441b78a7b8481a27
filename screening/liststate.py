"""Each worker's view of the current list: the version, its entries, sources and matcher.

A worker checks the head pointer at most every LIST_POLL_SECONDS and rebuilds when it moved, so every worker
serves a change within a few seconds. A request takes one snapshot and uses it throughout: a screening never mixes
two versions.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from . import store
from .matching import Matcher
from .matching.text import load_converters
from .snapshotcache import collector_paused, load_or_build


@dataclass(frozen=True)
class ListSnapshot:
    version: int | None
    entries: dict[str, dict[str, Any]]
    sources: dict[str, dict[str, Any]]
    matcher: Matcher
    loaded_at: float = field(default_factory=time.time)


def build_snapshot(session: Session, version: int | None, cache_dir: Path | None = None) -> ListSnapshot:
    """The version's entries, sources and matcher, loaded from `cache_dir` when it holds this content."""
    if version is None:
        return ListSnapshot(None, {}, {}, Matcher([]))

    def build() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], Matcher]:
        entries = {e["id"]: e for e in store.version_entries(session, version)}
        matcher = Matcher(entries.values())
        matcher.vocabulary.warm()  # the cross-script keys, once, into the cache rather than in every worker
        return entries, store.version_sources(session, version), matcher

    with collector_paused():
        load_converters()  # a built index has them loaded by its Han names, a loaded one by nothing yet
        # Keyed by the content's hash, not by the version number: a restore that brings back old content reuses it.
        entries, sources, matcher = load_or_build(store.version_content_hash(session, version), build, cache_dir)
    return ListSnapshot(version, entries, sources, matcher)


def index_cache_dir(app: Flask) -> Path | None:
    configured = app.config.get("INDEX_CACHE_DIR")
    if configured and configured.strip().lower() == "off":
        return None
    return Path(configured) if configured else Path(app.instance_path) / "index-cache"


class ListState:
    def __init__(self, sessions: sessionmaker[Session], poll_seconds: float, cache_dir: Path | None = None):
        self._sessions = sessions
        self._poll = poll_seconds
        self._cache_dir = cache_dir
        self._lock = threading.Lock()
        self._snapshot: ListSnapshot | None = None
        self._checked_at = 0.0

    def _check_now(self) -> ListSnapshot:
        """Read the head pointer; rebuild when it moved. The caller holds the lock."""
        with self._sessions() as session:
            version = store.current_version(session)
            if self._snapshot is None or self._snapshot.version != version:
                self._snapshot = build_snapshot(session, version, self._cache_dir)
        self._checked_at = time.monotonic()
        return self._snapshot

    def snapshot(self) -> ListSnapshot:
        snap = self._snapshot
        if snap is not None and time.monotonic() - self._checked_at < self._poll:
            return snap
        # One thread checks (and rebuilds, which takes seconds on a large list); the others keep answering from the
        # snapshot they have rather than queue behind it. Only the very first snapshot is waited for.
        if not self._lock.acquire(blocking=snap is None):
            return snap  # type: ignore[return-value]
        try:
            if self._snapshot is not None and time.monotonic() - self._checked_at < self._poll:
                return self._snapshot
            return self._check_now()
        finally:
            self._lock.release()

    def refresh(self) -> ListSnapshot:
        """Check now and wait for the result (after this worker changed the list itself)."""
        with self._lock:
            return self._check_now()


def init_app(app: Flask) -> None:
    app.extensions["list_state"] = ListState(app.extensions["db_sessionmaker"], app.config["LIST_POLL_SECONDS"],
                                             index_cache_dir(app))


def get_state(app: Flask) -> ListState:
    return app.extensions["list_state"]

"""List operations shared by the admin API and the command line: import, edit, delist, versions, diff, restore.

Every change reads the current version and publishes the next one inside one write transaction that holds the
list's lock (PostgreSQL: the head row, FOR UPDATE; SQLite: BEGIN IMMEDIATE), so concurrent changes are applied one
after the other and never lose each other. A caller that says which version it edited (`expected_version`) gets a
conflict when the list has moved since.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from . import store
from .listfile import Entry, ListDocument, ListValidationError, Problem
from .models import ListVersion

IMPORT_MODES = ("replace", "merge")
MAX_VERSION = 2**31 - 1  # the database's integer: a larger number names no version


class EntryNotFound(LookupError):
    pass


class EntryExists(ValueError):
    pass


class VersionNotFound(LookupError):
    pass


class EmptyImport(ListValidationError):
    """A replace that would leave the list without entries, not asked for."""


@dataclass(frozen=True)
class ChangeResult:
    version: int
    created: bool
    summary: str


@contextmanager
def write_transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose transaction holds the list's write lock; committed on success, rolled back on error."""
    with sessions() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _current(session: Session) -> tuple[int | None, dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    version = store.current_version(session)
    if version is None:
        return None, {}, {}
    entries = {e["id"]: e for e in store.version_entries(session, version)}
    return version, entries, store.version_sources(session, version)


def _check(expected: int | None, current: int | None) -> None:
    if expected is not None and expected != current:
        raise store.VersionConflict(expected, current)


def _publish(session: Session, entries: dict[str, dict[str, Any]], sources: dict[str, dict[str, Any]], *,
             actor: str, summary: str, action: str, meta: dict[str, Any] | None = None) -> ChangeResult:
    result = store.publish(session, entries.values(), sources.values(), meta, actor=actor, summary=summary,
                           action=action)
    return ChangeResult(result.version, result.created, result.summary)


def import_document(session: Session, document: ListDocument, *, mode: str, actor: str,
                    expected_version: int | None = None, allow_empty: bool = False) -> ChangeResult:
    """replace: the list becomes the document. merge: the document's entries are added or replace their ids.
    A replace by a document without entries would empty the list: refused (EmptyImport) unless `allow_empty`."""
    if mode not in IMPORT_MODES:
        raise ListValidationError([Problem("(request)", "mode", f"must be one of {', '.join(IMPORT_MODES)}")])
    if mode == "replace" and not document.entries and not allow_empty:
        # A truncated download (an sdn.csv of one blank line) must not delist everyone; emptying is said aloud.
        raise EmptyImport([Problem("(file)", "entries", "no entries: a replace would empty the list (send "
                                                        "allow_empty=true, or --allow-empty, to mean it)")])
    store.lock_head(session)
    version, entries, sources = _current(session)
    _check(expected_version, version)
    imported = {e.id: e.canonical() for e in document.entries}
    imported_sources = {s.id: s.model_dump(mode="json", exclude_none=True) for s in document.sources}
    if mode == "replace":
        entries, sources = imported, imported_sources
    else:
        entries.update(imported)
        sources.update(imported_sources)
    fmt = document.meta.get("format", "native")
    return _publish(session, entries, sources, actor=actor, action=f"import-{mode}",
                    summary=f"import {fmt} ({mode}, {len(imported)} entries)", meta=document.meta)


def _check_sources(entry: Entry, sources: dict[str, dict[str, Any]]) -> None:
    missing = sorted(entry.source_ids() - set(sources))
    if missing:
        raise ListValidationError([Problem(f"entry {entry.id}", "source", f"unknown source {m!r}") for m in missing])


def put_entry(session: Session, entry: Entry, *, actor: str, create: bool,
              expected_version: int | None = None) -> ChangeResult:
    """Add (create) or replace an entry; its sources must be in the list's register."""
    store.lock_head(session)
    version, entries, sources = _current(session)
    _check(expected_version, version)
    if create and entry.id in entries:
        raise EntryExists(entry.id)
    if not create and entry.id not in entries:
        raise EntryNotFound(entry.id)
    _check_sources(entry, sources)
    entries[entry.id] = entry.canonical()
    verb = "add" if create else "edit"
    return _publish(session, entries, sources, actor=actor, action=f"entry-{verb}", summary=f"{verb} {entry.id}")


def delist_entry(session: Session, entry_id: str, *, actor: str, expected_version: int | None = None) -> ChangeResult:
    """A delisting keeps the entry (and its history) with status `delisted`; it stops matching."""
    store.lock_head(session)
    version, entries, sources = _current(session)
    _check(expected_version, version)
    if entry_id not in entries:
        raise EntryNotFound(entry_id)
    entries[entry_id] = {**entries[entry_id], "status": "delisted"}
    return _publish(session, entries, sources, actor=actor, action="entry-delist", summary=f"delist {entry_id}")


def restore(session: Session, version: int, *, actor: str) -> ChangeResult:
    """A new version whose content equals `version`."""
    store.lock_head(session)
    if not 0 <= version <= MAX_VERSION or session.get(ListVersion, version) is None:
        raise VersionNotFound(version)
    entries = {e["id"]: e for e in store.version_entries(session, version)}
    return _publish(session, entries, store.version_sources(session, version), actor=actor, action="restore",
                    summary=f"restore of version {version}", meta=store.version_meta(session, version))


def versions(session: Session, *, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    rows = session.scalars(select(ListVersion).order_by(ListVersion.number.desc()).limit(limit).offset(offset))
    return {"current": store.current_version(session),
            "total": session.scalar(select(func.count()).select_from(ListVersion)),
            "versions": [{"version": r.number, "created_at": r.created_at.isoformat(), "actor": r.actor,
                          "summary": r.summary, "entries": r.entry_count, "parent": r.parent} for r in rows]}


def field_changes(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"field": key, "before": before.get(key), "after": after.get(key)}
            for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)]


def diff(session: Session, version: int, against: int) -> dict[str, Any]:
    """What changed from `against` to `version`: entries added, removed, and changed field by field."""
    for number in (version, against):
        if not 0 <= number <= MAX_VERSION or session.get(ListVersion, number) is None:
            raise VersionNotFound(number)
    new = {e["id"]: e for e in store.version_entries(session, version)}
    old = {e["id"]: e for e in store.version_entries(session, against)}
    new_sources, old_sources = store.version_sources(session, version), store.version_sources(session, against)
    return {
        "version": version, "against": against,
        "added": [{"id": i, "name": _primary(new[i])} for i in sorted(set(new) - set(old))],
        "removed": [{"id": i, "name": _primary(old[i])} for i in sorted(set(old) - set(new))],
        "changed": [{"id": i, "name": _primary(new[i]), "changes": field_changes(old[i], new[i])}
                    for i in sorted(set(new) & set(old)) if new[i] != old[i]],
        "sources": {"added": sorted(set(new_sources) - set(old_sources)),
                    "removed": sorted(set(old_sources) - set(new_sources)),
                    "changed": sorted(s for s in set(new_sources) & set(old_sources)
                                      if new_sources[s] != old_sources[s])},
    }


def _primary(entry: dict[str, Any]) -> str:
    return next(n["name"] for n in entry["names"] if n["kind"] == "primary")

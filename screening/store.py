"""List versions: publish a new immutable version, read the current one, and write the audit trail.

Publishing writes content-addressed revisions (reused when unchanged), the version's links, the audit event and the
move of `list_head`, all in one transaction. Publishing content identical to the current version makes no version.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from .listfile import ListDocument, content_hash
from .models import (AuditEvent, Citation, EntryName, EntryRevision, ListHead, ListVersion, SourceRevision,
                     VersionEntry, VersionSource, utcnow)


@dataclass(frozen=True)
class PublishResult:
    version: int
    created: bool
    summary: str


class VersionConflict(Exception):
    """The list moved since the caller read it (optimistic check failed)."""

    def __init__(self, expected: int | None, current: int | None):
        self.expected, self.current = expected, current
        super().__init__(f"the list is at version {current}, not {expected}")


def current_version(session: Session) -> int | None:
    return session.scalar(select(ListHead.current_version).where(ListHead.id == 1))


def lock_head(session: Session) -> ListHead:
    """Take the list's write lock (PostgreSQL: FOR UPDATE on the head row; SQLite holds it via BEGIN IMMEDIATE)."""
    head = session.scalar(select(ListHead).where(ListHead.id == 1).with_for_update())
    if head is None:
        head = ListHead(id=1, current_version=None)
        session.add(head)
        session.flush()
    return head


def _list_hash(entries: dict[str, str], sources: dict[str, str]) -> str:
    return content_hash({"entries": entries, "sources": sources})


def _upsert_sources(session: Session, sources: Iterable[dict[str, Any]]) -> dict[str, int]:
    docs = {s["id"]: s for s in sources}
    hashes = {sid: content_hash(doc) for sid, doc in docs.items()}
    existing = dict(session.execute(
        select(SourceRevision.content_hash, SourceRevision.id)
        .where(SourceRevision.content_hash.in_(list(hashes.values())))).all()) if hashes else {}
    out: dict[str, int] = {}
    for sid, doc in docs.items():
        h = hashes[sid]
        if h not in existing:
            rev = SourceRevision(source_id=sid, content_hash=h, data=doc)
            session.add(rev)
            session.flush()
            existing[h] = rev.id
        out[sid] = existing[h]
    return out


def _entry_hashes(entries: Iterable[dict[str, Any]]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {doc["id"]: (content_hash(doc), doc) for doc in entries}


def _upsert_entries(session: Session, hashed: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, int]:
    wanted = [h for h, _ in hashed.values()]
    existing: dict[str, int] = {}
    for start in range(0, len(wanted), 5000):
        chunk = wanted[start:start + 5000]
        existing.update(session.execute(
            select(EntryRevision.content_hash, EntryRevision.id).where(EntryRevision.content_hash.in_(chunk))).all())
    new = [(eid, h, doc) for eid, (h, doc) in hashed.items() if h not in existing]
    now = utcnow()
    for start in range(0, len(new), 2000):
        chunk = new[start:start + 2000]
        rows = session.execute(insert(EntryRevision).returning(EntryRevision.id, EntryRevision.content_hash), [
            {"entry_id": eid, "content_hash": h, "type": doc["type"], "status": doc["status"],
             "primary_name": next(n["name"] for n in doc["names"] if n["kind"] == "primary")[:500],
             "data": doc, "created_at": now} for eid, h, doc in chunk]).all()
        ids = {h: rid for rid, h in rows}
        existing.update(ids)
        names, cites = [], []
        for _eid, h, doc in chunk:
            rid = ids[h]
            names += [{"revision_id": rid, "position": i, "name": n["name"], "kind": n["kind"],
                       "script": n.get("script")} for i, n in enumerate(doc["names"])]
            cites += [{"revision_id": rid, "position": i, "source_id": c["source"], "quote": c["quote"],
                       "via": c.get("via")} for i, c in enumerate(doc["citations"])]
        if names:
            session.execute(insert(EntryName), names)
        if cites:
            session.execute(insert(Citation), cites)
    return {eid: existing[h] for eid, (h, _) in hashed.items()}


def version_links(session: Session, version: int) -> tuple[dict[str, str], dict[str, str]]:
    """entry id -> content hash, source id -> content hash, for one version."""
    entries = dict(session.execute(
        select(VersionEntry.entry_id, EntryRevision.content_hash)
        .join(EntryRevision, EntryRevision.id == VersionEntry.revision_id)
        .where(VersionEntry.version == version)).all())
    sources = dict(session.execute(
        select(VersionSource.source_id, SourceRevision.content_hash)
        .join(SourceRevision, SourceRevision.id == VersionSource.source_revision_id)
        .where(VersionSource.version == version)).all())
    return entries, sources


def describe_change(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    return {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": sorted(k for k in set(before) & set(after) if before[k] != after[k]),
    }


def publish_document(session: Session, document: ListDocument, **kwargs: Any) -> PublishResult:
    """Publish a validated document (see `publish`)."""
    return publish(session, [e.canonical() for e in document.entries],
                   [s.model_dump(mode="json", exclude_none=True) for s in document.sources], document.meta, **kwargs)


def publish(session: Session, entries: Iterable[dict[str, Any]], sources: Iterable[dict[str, Any]],
            meta: dict[str, Any] | None = None, *, actor: str, summary: str | None = None,
            expected_version: int | None = None, check_expected: bool = False,
            action: str = "publish") -> PublishResult:
    """Make these canonical entries and sources the current list, as a new version, in the session's transaction
    (the caller commits). Nothing is written when the content equals the current version."""
    head = lock_head(session)
    current = head.current_version
    if check_expected and current != expected_version:
        raise VersionConflict(expected_version, current)

    hashed = _entry_hashes(entries)
    sources = list(sources)
    source_docs = {s["id"]: content_hash(s) for s in sources}
    new_hash = _list_hash({eid: h for eid, (h, _) in hashed.items()}, source_docs)

    before_entries: dict[str, str] = {}
    if current is not None:
        cur = session.get(ListVersion, current)
        if cur is not None and cur.content_hash == new_hash:
            return PublishResult(version=current, created=False, summary="unchanged")
        before_entries, _ = version_links(session, current)

    change = describe_change(before_entries, {eid: h for eid, (h, _) in hashed.items()})
    auto_summary = (f"{len(change['added'])} added, {len(change['changed'])} changed, "
                    f"{len(change['removed'])} removed; {len(hashed)} entries")
    summary = f"{summary}: {auto_summary}" if summary else auto_summary

    number = (session.scalar(select(func.max(ListVersion.number))) or 0) + 1
    session.add(ListVersion(number=number, actor=actor, summary=summary, content_hash=new_hash, parent=current,
                            entry_count=len(hashed), meta=meta or {}))
    session.flush()
    entry_revs = _upsert_entries(session, hashed)
    source_revs = _upsert_sources(session, sources)
    links = [{"version": number, "entry_id": eid, "revision_id": rid} for eid, rid in entry_revs.items()]
    for start in range(0, len(links), 5000):
        session.execute(insert(VersionEntry), links[start:start + 5000])
    if source_revs:
        session.execute(insert(VersionSource), [
            {"version": number, "source_id": sid, "source_revision_id": rid} for sid, rid in source_revs.items()])
    head.current_version = number
    head.updated_at = utcnow()
    record_audit(session, kind="list", action=action, actor=actor, list_version=number,
                 data={"summary": summary, "parent": current, **{k: v[:1000] for k, v in change.items()},
                       "counts": {k: len(v) for k, v in change.items()}})
    return PublishResult(version=number, created=True, summary=summary)


def record_audit(session: Session, *, kind: str, action: str, actor: str, list_version: int | None,
                 reference: str | None = None, data: dict[str, Any] | None = None) -> None:
    session.add(AuditEvent(kind=kind, action=action, actor=actor, list_version=list_version,
                           reference=reference, data=data or {}))


def record_audit_batch(session: Session, screenings: list[dict[str, Any]], *, actor: str,
                       list_version: int | None, action: str, extra: dict[str, Any] | None = None) -> None:
    """One screening record per row of a bulk file, inserted in batches."""
    now = utcnow()
    rows = [{"occurred_at": now, "kind": "screening", "action": action, "actor": actor, "list_version": list_version,
             "reference": (item.get("reference") or None) and str(item["reference"])[:200],
             "data": {**(extra or {}), "screening_id": str(uuid.uuid4()), "query": item["query"],
                      "matches": item["matches"]}} for item in screenings]
    for start in range(0, len(rows), 5000):  # the table, not the ORM class: no per-row ORM bookkeeping
        session.execute(insert(AuditEvent.__table__), rows[start:start + 5000])


def version_entries(session: Session, version: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(EntryRevision.data).join(VersionEntry, VersionEntry.revision_id == EntryRevision.id)
        .where(VersionEntry.version == version).order_by(VersionEntry.entry_id))
    return list(rows)


def version_entry(session: Session, version: int, entry_id: str) -> dict[str, Any] | None:
    return session.scalar(
        select(EntryRevision.data).join(VersionEntry, VersionEntry.revision_id == EntryRevision.id)
        .where(VersionEntry.version == version, VersionEntry.entry_id == entry_id))


def version_sources(session: Session, version: int) -> dict[str, dict[str, Any]]:
    rows = session.scalars(
        select(SourceRevision.data).join(VersionSource, VersionSource.source_revision_id == SourceRevision.id)
        .where(VersionSource.version == version).order_by(VersionSource.source_id))
    return {doc["id"]: doc for doc in rows}


def version_content_hash(session: Session, version: int) -> str | None:
    return session.scalar(select(ListVersion.content_hash).where(ListVersion.number == version))


def version_meta(session: Session, version: int) -> dict[str, Any]:
    row = session.get(ListVersion, version)
    return (row.meta if row else {}) or {}

"""Database models (SQLAlchemy 2.0 style).

History is never overwritten: an entry revision or a source revision is immutable and content-addressed; a list
version is a set of (entry id -> revision) and (source id -> revision) links; `list_head` is the one row that says
which version is current, and it moves in the same transaction that writes the version.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """A stored time, aware and in UTC: SQLite hands back naive datetimes, written in UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def iso_utc(moment: datetime | None, timespec: str = "auto") -> str | None:
    """A stored time as the API writes it: ISO 8601 in UTC with a Z (None stays None)."""
    return None if moment is None else as_utc(moment).isoformat(timespec=timespec).replace("+00:00", "Z")


class Base(DeclarativeBase):
    pass


class ListVersion(Base):
    __tablename__ = "list_versions"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    parent: Mapped[int | None] = mapped_column(Integer, nullable=True)
    entry_count: Mapped[int] = mapped_column(Integer, default=0)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ListHead(Base):
    """A single row (id 1): the current list version."""

    __tablename__ = "list_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    current_version: Mapped[int | None] = mapped_column(ForeignKey("list_versions.number"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EntryRevision(Base):
    __tablename__ = "entry_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(200), index=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    primary_name: Mapped[str] = mapped_column(String(500))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    names: Mapped[list["EntryName"]] = relationship(back_populates="revision", order_by="EntryName.position")
    citations: Mapped[list["Citation"]] = relationship(back_populates="revision", order_by="Citation.position")


class EntryName(Base):
    __tablename__ = "entry_names"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("entry_revisions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(20))
    script: Mapped[str | None] = mapped_column(String(4), nullable=True)

    revision: Mapped[EntryRevision] = relationship(back_populates="names")


class Citation(Base):
    __tablename__ = "citations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("entry_revisions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    source_id: Mapped[str] = mapped_column(String(200))
    quote: Mapped[str] = mapped_column(Text)
    via: Mapped[str | None] = mapped_column(String(200), nullable=True)

    revision: Mapped[EntryRevision] = relationship(back_populates="citations")


class SourceRevision(Base):
    __tablename__ = "source_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(String(200), index=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VersionEntry(Base):
    __tablename__ = "version_entries"

    version: Mapped[int] = mapped_column(ForeignKey("list_versions.number"), primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("entry_revisions.id"))


class VersionSource(Base):
    __tablename__ = "version_sources"

    version: Mapped[int] = mapped_column(ForeignKey("list_versions.number"), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    source_revision_id: Mapped[int] = mapped_column(ForeignKey("source_revisions.id"))


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_kind_time", "kind", "occurred_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(20))  # "list" | "screening"
    action: Mapped[str] = mapped_column(String(50))
    actor: Mapped[str] = mapped_column(String(200))
    list_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reference: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("key_id", name="uq_api_keys_key_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32))  # the public part of the key, used to find the row
    key_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the whole key
    label: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Job(Base):
    """A bulk CSV screening run in the background. The file and its result live in the jobs folder; the state is
    here, so that any worker can report progress and a job whose worker died is taken up again (lease expired).

    The checkpoint (`rows_done` rows, the first `result_bytes` bytes of the part file `part_name`, `rows_audited`)
    is committed in the same transaction as the audit records of those rows: a job taken up again resumes from it
    and never audits a row twice."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_lease", "status", "lease_until"),
                      Index("ix_jobs_owner_status", "owner_key_id", "status"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))  # queued | running | done | failed | cancelled
    actor: Mapped[str] = mapped_column(String(200))  # the key's label, for the audit trail (not for access)
    # The id (public part) of the API key that created the job: only it, and admin keys, can see or cancel the job.
    # Labels are free text and not unique, so they must not decide access. NULL: made with auth disabled.
    owner_key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    rows_matched: Mapped[int] = mapped_column(Integer, default=0)
    rows_audited: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    result_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    part_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    list_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

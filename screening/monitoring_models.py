"""Ongoing monitoring's tables: subjects (a bank's customers), re-screen runs, alerts, decisions on them, the
suppressions false positives leave behind, and webhook deliveries.

A hit is a (subject, entry) pair scoring at or above the threshold. An alert is opened for a new hit; while it is
live its `live_key` is "<reference>\\x1f<entry id>", unique, so two runs (or two workers) can never open the same
alert twice: the second insert fails and is skipped. A hit that disappears (delisting, a name change, the subject
edited) is recorded on its alert (`cleared_version`, `cleared_reason`) and the key is set to NULL, so that a later
hit of the same pair opens a new alert.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, utcnow


class Subject(Base):
    """A monitored customer or counterparty, upserted by its reference."""

    __tablename__ = "monitoring_subjects"

    reference: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    type: Mapped[str] = mapped_column(String(20), default="any")  # person | organization | any
    birth_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Hash of what screening reads (name, type, birth date, country): a change lifts the subject's suppressions.
    data_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class MonitoringRun(Base):
    """One re-screen of the subjects against a list version: `incremental` (triggered by a list change: only
    subjects whose results can change) or `full`. Claimed and leased through the database like bulk jobs; `cursor`
    (the last subject reference done, in reference order) lets a run taken up after a killed worker resume.

    `trigger_key` is unique: "version:<n>" for the one run a new list version triggers (whichever worker sees the
    version first inserts it; the others' inserts fail), NULL for manual runs."""

    __tablename__ = "monitoring_runs"
    __table_args__ = (UniqueConstraint("trigger_key", name="uq_monitoring_runs_trigger"),
                      Index("ix_monitoring_runs_status_lease", "status", "lease_until"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # incremental | full
    trigger: Mapped[str] = mapped_column(String(30))  # list-change | manual | matcher-upgrade
    trigger_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    list_version: Mapped[int] = mapped_column(Integer)  # screened against
    from_version: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the version before (incremental)
    matcher_fingerprint: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued | running | done | failed
    actor: Mapped[str] = mapped_column(String(200), default="system")
    cursor: Mapped[str | None] = mapped_column(String(200), nullable=True)
    subjects_total: Mapped[int] = mapped_column(Integer, default=0)
    subjects_done: Mapped[int] = mapped_column(Integer, default=0)
    subjects_rescored: Mapped[int] = mapped_column(Integer, default=0)
    alerts_opened: Mapped[int] = mapped_column(Integer, default=0)
    hits_cleared: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    timings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # seconds per phase


class Alert(Base):
    """A hit of a subject on an entry, as it was found: score, explanation, citations, the versions around it."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("live_key", name="uq_alerts_live_key"),
                      Index("ix_alerts_subject_entry", "subject_reference", "entry_id"),
                      Index("ix_alerts_status_created", "status", "created_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    live_key: Mapped[str | None] = mapped_column(String(420), nullable=True)
    subject_reference: Mapped[str] = mapped_column(String(200))
    entry_id: Mapped[str] = mapped_column(String(200), index=True)
    # open | pending_confirmation (four-eyes: a first true_match) | true_match | false_positive
    status: Mapped[str] = mapped_column(String(30), default="open")
    score: Mapped[float] = mapped_column(Float)
    matched_name: Mapped[str] = mapped_column(String(500))
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    subject_name: Mapped[str] = mapped_column(String(500))
    subject_hash: Mapped[str] = mapped_column(String(64))  # Subject.data_hash when opened
    entry_hash: Mapped[str] = mapped_column(String(64))  # the entry revision's content hash when opened
    version_before: Mapped[int | None] = mapped_column(Integer, nullable=True)
    version_opened: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("monitoring_runs.id"), nullable=True)
    cleared_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cleared_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AlertDecision(Base):
    """A decision on an alert, in order: true_match, false_positive, confirm (four-eyes), or reverse (undoes the
    alert's last standing decision); each with a note and the deciding key."""

    __tablename__ = "alert_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    decision: Mapped[str] = mapped_column(String(30))  # true_match | false_positive | confirm | reverse
    note: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(200))  # the key's label
    key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Suppression(Base):
    """A false positive remembered per (subject, entry): the same hit is not alerted again while the entry's content
    hash and the subject's data hash stay what they were when it was decided."""

    __tablename__ = "suppressions"

    subject_reference: Mapped[str] = mapped_column(String(200), primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    subject_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookDelivery(Base):
    """One delivery of an event (a new alert) to the webhook: every attempt updates it; `attempts_log` keeps each
    attempt's time, status code or error."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    event: Mapped[str] = mapped_column(String(50), default="alert.opened")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    attempts_log: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

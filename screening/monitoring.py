"""Ongoing monitoring: subjects (validated, hashed, upserted), the runs a list change or a matcher upgrade queues,
and the JSON shapes of subjects, runs and alerts.

Screening and the run loop are in monitoring_runner.py; the routes in api/monitoring.py.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from typing import Any, Iterable

from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import store
from .api.guard import unstorable
from .models import iso_utc, utcnow
from .monitoring_models import Alert, AlertDecision, MonitoringRun, Subject
from .snapshotcache import code_fingerprint

SUBJECT_TYPES = ("person", "organization", "any")
SCREENED_FIELDS = ("reference", "name", "type", "birth_date", "country")
_DATE = re.compile(r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$")
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
MAX_SUBJECTS_PER_REQUEST = 100_000


def runner_enabled(app: Flask) -> bool:
    return bool(app.config.get("MONITORING_RUNNER", True))


# Subjects ----------------------------------------------------------------------------------------------------------

def data_hash(name: str, type: str, birth_date: str | None, country: str | None) -> str:
    """What screening reads of a subject: a change in it lifts the subject's suppressions."""
    text = json.dumps([name, type, birth_date, country], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def validate_subject(raw: Any, *, strict: bool = True) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    """A subject's clean fields, or the errors (field, message). Unknown JSON fields are errors (extra data goes in
    `meta`): a misspelt field name must not be silently kept. `strict` (JSON): an optional field is absent or null,
    never an empty string; a CSV's empty cell means absent."""
    if not isinstance(raw, dict):
        return None, [{"field": "(item)", "message": "must be a JSON object"}]
    errors: list[dict[str, str]] = []
    unknown = sorted(set(raw) - set(SCREENED_FIELDS) - {"meta"})
    errors += [{"field": k, "message": "unknown field (put extra data in meta)"} for k in unknown]

    def text(field: str, limit: int, required: bool, nullable: bool = True) -> str | None:
        value = raw.get(field)
        if value is None and (field not in raw or nullable or not strict):
            if required:
                errors.append({"field": field, "message": "required"})
            return None
        if not isinstance(value, str):
            errors.append({"field": field, "message": "must be a string"})
            return None
        if len(value) > limit:  # before trimming, as the schema counts
            errors.append({"field": field, "message": f"at most {limit} characters"})
        elif (why := unstorable(value)) is not None:
            errors.append({"field": field, "message": why})
        elif not value.strip():
            if required or strict:
                errors.append({"field": field, "message": "must not be blank"})
        else:
            # JSON's coded fields are taken as written (" GB" is not a country code); names and CSV cells trimmed.
            return value.strip() if not strict or field in ("reference", "name") else value
        return None

    reference, name = text("reference", 200, True), text("name", 500, True)
    if reference and "/" in reference:
        # A reference is a path segment of GET and DELETE /v1/monitoring/subjects/{reference}.
        errors.append({"field": "reference", "message": "must not contain '/'"})
        reference = None
    kind = text("type", 20, False, nullable=False) or "any"
    if kind not in SUBJECT_TYPES:
        errors.append({"field": "type", "message": f"one of {', '.join(SUBJECT_TYPES)}"})
    birth_date, country = text("birth_date", 10, False), text("country", 2, False)
    if birth_date and not _DATE.match(birth_date):
        errors.append({"field": "birth_date", "message": "YYYY, YYYY-MM or YYYY-MM-DD"})
    if country and not _COUNTRY.match(country):
        errors.append({"field": "country", "message": "an ISO 3166 alpha-2 code"})
    meta = raw.get("meta", {})
    if not isinstance(meta, dict):
        errors.append({"field": "meta", "message": "must be a JSON object"})
    if errors:
        return None, errors
    return {"reference": reference, "name": name, "type": kind, "birth_date": birth_date,
            "country": country.upper() if country else None, "meta": meta}, []


def parse_csv(text: str) -> list[tuple[int, dict[str, Any]]]:
    """(line, item) per data row; columns other than the screened ones become the subject's metadata. ValueError
    when the text is not CSV at all."""
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    items = []
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ValueError(f"not a readable CSV at line {reader.line_num}: {exc}") from None
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue  # a blank line
        fields = {k: v for k, v in row.items() if k in SCREENED_FIELDS}
        meta = {k: v for k, v in row.items() if k not in SCREENED_FIELDS and k is not None and v not in (None, "")}
        items.append((reader.line_num, {**fields, "meta": meta}))
    return items


def upsert_subjects(session: Session, items: Iterable[tuple[Any, Any]], *, actor: str, label: str = "index"
                    ) -> dict[str, Any]:
    """Validate and upsert (position, raw item) pairs in the session's transaction (the caller commits); the valid
    ones are stored, the errors are reported with their position (`index` for JSON, `line` for CSV)."""
    created = updated = unchanged = 0
    errors: list[dict[str, Any]] = []
    valid: dict[str, dict[str, Any]] = {}
    for position, raw in items:
        clean, problems = validate_subject(raw, strict=label != "line")
        if clean is None:
            errors += [{label: position, **p} for p in problems]
        else:
            valid[clean["reference"]] = clean  # a reference given twice: the last one wins
    existing = {}
    refs = list(valid)
    for start in range(0, len(refs), 1000):
        existing.update({s.reference: s for s in session.scalars(
            select(Subject).where(Subject.reference.in_(refs[start:start + 1000])))})
    now = utcnow()
    changes: list[str] = []
    for reference, clean in valid.items():
        digest = data_hash(clean["name"], clean["type"], clean["birth_date"], clean["country"])
        subject = existing.get(reference)
        if subject is None:
            session.add(Subject(**clean, data_hash=digest, created_at=now, updated_at=now))
            created += 1
            changes.append(reference)
        elif subject.data_hash != digest or subject.meta != clean["meta"]:
            for key, value in clean.items():
                setattr(subject, key, value)
            subject.data_hash, subject.updated_at = digest, now
            updated += 1
            changes.append(reference)
        else:
            unchanged += 1
    if changes:
        store.record_audit(session, kind="monitoring", action="subjects-upsert", actor=actor,
                           list_version=store.current_version(session),
                           data={"created": created, "updated": updated, "references": changes[:1000]})
    return {"created": created, "updated": updated, "unchanged": unchanged, "errors": errors}


def subject_json(subject: Subject) -> dict[str, Any]:
    return {"reference": subject.reference, "name": subject.name, "type": subject.type,
            "birth_date": subject.birth_date, "country": subject.country, "meta": subject.meta,
            "data_hash": subject.data_hash, "created_at": iso_utc(subject.created_at),
            "updated_at": iso_utc(subject.updated_at)}


def clear_alerts(session: Session, where: Any, *, version: int | None, reason: str) -> int:
    """Clear the live alerts matching `where`: the hit is gone, a later hit of the pair opens a new alert."""
    moved = session.execute(update(Alert).where(where, Alert.live_key.is_not(None))
                            .values(live_key=None, cleared_version=version, cleared_reason=reason,
                                    updated_at=utcnow()))
    return moved.rowcount or 0


def delete_subject(session: Session, reference: str, *, actor: str) -> bool:
    subject = session.get(Subject, reference)
    if subject is None:
        return False
    version = store.current_version(session)
    cleared = clear_alerts(session, Alert.subject_reference == reference, version=version, reason="subject removed")
    session.delete(subject)
    store.record_audit(session, kind="monitoring", action="subject-delete", actor=actor, list_version=version,
                       reference=reference, data={"alerts_cleared": cleared})
    return True


# Alerts and runs ---------------------------------------------------------------------------------------------------

def live_key(reference: str, entry_id: str) -> str:
    return f"{reference}\x1f{entry_id}"


def alert_json(alert: Alert, decisions: list[AlertDecision] | None = None) -> dict[str, Any]:
    """An alert as the API and the webhook show it; `decisions` (oldest first) only when given."""
    out = {"id": alert.id, "status": alert.status, "live": alert.live_key is not None,
           "subject_reference": alert.subject_reference, "subject_name": alert.subject_name,
           "subject_hash": alert.subject_hash, "entry_id": alert.entry_id, "entry_hash": alert.entry_hash,
           "score": alert.score, "matched_name": alert.matched_name, "explanation": alert.explanation,
           "citations": alert.citations, "version_before": alert.version_before,
           "version_opened": alert.version_opened, "run_id": alert.run_id,
           "cleared_version": alert.cleared_version, "cleared_reason": alert.cleared_reason,
           "created_at": iso_utc(alert.created_at), "updated_at": iso_utc(alert.updated_at)}
    if decisions is not None:
        from .decisions import decision_json  # the one shape of a decision, as the decision endpoint answers it

        out["decisions"] = [decision_json(d) for d in decisions]
    return out


def run_json(run: MonitoringRun) -> dict[str, Any]:
    return {"id": run.id, "kind": run.kind, "trigger": run.trigger, "trigger_key": run.trigger_key,
            "list_version": run.list_version, "from_version": run.from_version, "status": run.status,
            "actor": run.actor, "subjects_total": run.subjects_total, "subjects_done": run.subjects_done,
            "subjects_rescored": run.subjects_rescored, "alerts_opened": run.alerts_opened,
            "hits_cleared": run.hits_cleared, "attempts": run.attempts, "error": run.error,
            "matcher_fingerprint": run.matcher_fingerprint, "timings": run.timings,
            "created_at": iso_utc(run.created_at), "started_at": iso_utc(run.started_at),
            "finished_at": iso_utc(run.finished_at)}


def _insert_run(app: Flask, **values: Any) -> int | None:
    """Insert a run; None when its trigger_key is taken (another process noticed first)."""
    with app.extensions["db_sessionmaker"]() as session:
        run = MonitoringRun(matcher_fingerprint=code_fingerprint(), **values)
        session.add(run)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return None
        return run.id


def queue_full_run(app: Flask, *, actor: str, trigger: str = "manual", trigger_key: str | None = None) -> int | None:
    with app.extensions["db_sessionmaker"]() as session:
        version = store.current_version(session)
    if version is None:
        return None
    return _insert_run(app, kind="full", trigger=trigger, trigger_key=trigger_key, list_version=version,
                       actor=actor)


def notice_changes(app: Flask) -> list[int]:
    """Queue the run a new head version, subjects edited since the last run, or a new matcher call for, unless a
    process did already; the ids queued here. Every worker's runner calls this on each poll, and so may the CLI: the unique trigger_key makes one
    insert win."""
    with app.extensions["db_sessionmaker"]() as session:
        head = store.current_version(session)
        if head is None:
            return []
        seen = session.scalar(select(MonitoringRun.id).where(MonitoringRun.trigger_key == f"version:{head}"))
        last_version = session.scalar(select(func.max(MonitoringRun.list_version)))
        last_run = session.execute(select(MonitoringRun.id, MonitoringRun.created_at)
                                   .order_by(MonitoringRun.id.desc()).limit(1)).first()
        edited = last_run is not None and session.scalar(
            select(Subject.reference).where(Subject.updated_at >= last_run.created_at).limit(1)) is not None
        last_done_fp = session.scalar(select(MonitoringRun.matcher_fingerprint)
                                      .where(MonitoringRun.status == "done")
                                      .order_by(MonitoringRun.id.desc()).limit(1))
    queued: list[int] = []
    if seen is None and last_version != head:
        # The first run ever screens everything; later ones only what the change can affect.
        kind = "full" if last_version is None else "incremental"
        run_id = _insert_run(app, kind=kind, trigger="list-change", trigger_key=f"version:{head}",
                             list_version=head, from_version=last_version)
        if run_id is not None:
            queued.append(run_id)
    if edited and not queued:
        # Subjects added or edited since the last run are screened by a run of their own, against the head version
        # (no list change to diff): one per last run, whoever notices first.
        assert last_run is not None
        run_id = _insert_run(app, kind="incremental", trigger="subjects-changed",
                             trigger_key=f"subjects-after:{last_run.id}", list_version=head, from_version=head)
        if run_id is not None:
            queued.append(run_id)
    fingerprint = code_fingerprint()
    if last_done_fp is not None and last_done_fp != fingerprint:
        run_id = queue_full_run(app, actor="system", trigger="matcher-upgrade", trigger_key=f"matcher:{fingerprint}")
        if run_id is not None:
            queued.append(run_id)
    return queued

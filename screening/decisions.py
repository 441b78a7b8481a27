"""Decisions on alerts (true match, false positive, four-eyes confirmation, reverse) and what they leave behind:
the suppression a false positive writes, and the decision marks /v1/screen puts on matches already decided.

The alert's status is the state machine; every move is one conditional UPDATE on (id, status as read), so of two
concurrent decisions on one alert exactly one wins and the other gets 409. The decision row, the suppression and
the audit record are written in the same transaction as that UPDATE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from . import store
from .auth import Principal
from .errors import ApiError
from .listfile import content_hash
from .models import iso_utc, utcnow
from .monitoring_models import Alert, AlertDecision, Subject, Suppression

DECISIONS = ("true_match", "false_positive", "confirm", "reverse")
MAX_NOTE_LENGTH = 2000
REFERENCE_CHUNK = 500


@dataclass(frozen=True)
class DecisionRequest:
    decision: str
    note: str


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(400, "Invalid request", f"{field} {message}.", errors=[{"field": field, "message": message}],
                    slug="validation")


def parse_request(body: Any) -> DecisionRequest:
    """The body {"decision": ..., "note": ...}; a 400 naming the field otherwise."""
    if not isinstance(body, dict):
        raise _invalid("(body)", "must be a JSON object")
    unknown = sorted(set(body) - {"decision", "note"})
    if unknown:
        raise _invalid(unknown[0], "is not a field of a decision (it takes decision and note)")
    decision = body.get("decision")
    if not isinstance(decision, str) or decision not in DECISIONS:
        raise _invalid("decision", f"must be one of {', '.join(DECISIONS)}")
    note = body.get("note")
    if not isinstance(note, str) or not note.strip():
        # A decision without its reason cannot be reviewed later: the note is what an auditor reads.
        raise _invalid("note", "is required and must not be blank")
    note = note.strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise _invalid("note", f"must be at most {MAX_NOTE_LENGTH} characters")
    return DecisionRequest(decision, note)


def decision_json(row: AlertDecision) -> dict[str, Any]:
    return {"id": row.id, "decision": row.decision, "note": row.note, "actor": row.actor, "key_id": row.key_id,
            "decided_at": iso_utc(row.created_at, "seconds")}


def decisions_of(session: Session, alert_id: int) -> list[AlertDecision]:
    return list(session.scalars(select(AlertDecision).where(AlertDecision.alert_id == alert_id)
                                .order_by(AlertDecision.id)))


def _conflict(detail: str, status: str) -> ApiError:
    return ApiError(409, "Conflict", detail, slug="decision-conflict", extra={"alert_status": status})


def _pending_decider(session: Session, alert_id: int) -> AlertDecision | None:
    """The true_match that made the alert pending: the last one recorded."""
    return session.scalar(select(AlertDecision).where(AlertDecision.alert_id == alert_id,
                                                      AlertDecision.decision == "true_match")
                          .order_by(AlertDecision.id.desc()).limit(1))


def _next_status(session: Session, alert: Alert, request: DecisionRequest, principal: Principal,
                 four_eyes: bool) -> str:
    """The status this decision moves the alert to, or the 409 explaining why it cannot."""
    status, decision = alert.status, request.decision
    if decision == "reverse":
        if status == "open":
            raise _conflict("The alert has no standing decision to reverse.", status)
        return "open"
    if status == "open":
        if decision == "false_positive":
            return "false_positive"
        if decision == "true_match":
            return "pending_confirmation" if four_eyes else "true_match"
        raise _conflict("There is no pending true match to confirm.", status)
    if status == "pending_confirmation":
        if decision in ("true_match", "confirm"):
            first = _pending_decider(session, alert.id)
            # Four eyes means two keys: the same key (or no key, with auth disabled) cannot confirm itself.
            if first is None or first.key_id is None or first.key_id == principal.key_id:
                raise _conflict("A true match must be confirmed by a different API key than the one that "
                                "decided it.", status)
            return "true_match"
        raise _conflict("The alert awaits confirmation of a true match; reverse it first to decide otherwise.", status)
    raise _conflict(f"The alert is already decided ({status}); reverse the decision first.", status)


def _upsert_suppression(session: Session, alert: Alert, actor: str) -> None:
    values = {"subject_reference": alert.subject_reference, "entry_id": alert.entry_id,
              "subject_hash": alert.subject_hash, "entry_hash": alert.entry_hash, "alert_id": alert.id,
              "actor": actor, "created_at": utcnow()}
    # ON CONFLICT rather than read-then-write: two false positives on the pair (an old cleared alert and the live
    # one) decided at once must not fail on the primary key.
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Suppression).values(**values)
    session.execute(stmt.on_conflict_do_update(
        index_elements=["subject_reference", "entry_id"],
        set_={k: stmt.excluded[k] for k in ("subject_hash", "entry_hash", "alert_id", "actor", "created_at")}))


def decide(session: Session, alert_id: int, request: DecisionRequest, principal: Principal, *,
           four_eyes: bool) -> tuple[Alert, list[AlertDecision]]:
    """Apply one decision in the session's transaction (the caller commits); the alert and all its decisions."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise ApiError(404, "Not Found", f"There is no alert {alert_id}.", slug="not-found")
    before = alert.status
    after = _next_status(session, alert, request, principal, four_eyes)
    now = utcnow()
    moved = session.execute(update(Alert).where(Alert.id == alert_id, Alert.status == before)
                            .values(status=after, updated_at=now).execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        session.rollback()
        raise _conflict("Another decision on this alert was recorded at the same time; read it and decide again.",
                        before)
    if request.decision == "false_positive":
        _upsert_suppression(session, alert, principal.label)
    elif request.decision == "reverse" and before == "false_positive":
        # Only the suppression this alert wrote: a later alert's own false positive on the pair stays.
        session.execute(delete(Suppression).where(Suppression.subject_reference == alert.subject_reference,
                                                  Suppression.entry_id == alert.entry_id,
                                                  Suppression.alert_id == alert.id))
    recorded = "confirm" if before == "pending_confirmation" and request.decision == "true_match" \
        else request.decision
    session.add(AlertDecision(alert_id=alert_id, decision=recorded, note=request.note, actor=principal.label,
                              key_id=principal.key_id, created_at=now))
    store.record_audit(session, kind="monitoring", action="alert-decision", actor=principal.label,
                       list_version=store.current_version(session), reference=alert.subject_reference,
                       data={"alert_id": alert_id, "entry_id": alert.entry_id, "decision": recorded,
                             "status_before": before, "status_after": after, "note": request.note,
                             "key_id": principal.key_id})
    session.flush()
    session.refresh(alert)
    return alert, decisions_of(session, alert_id)


def is_suppressed(session: Session, subject_reference: str, entry_id: str, *, subject_hash: str,
                  entry_hash: str) -> bool:
    """Whether a hit of this pair, with the subject's and the entry's data as they are now, was decided a false
    positive on the same data (what a monitoring run asks before opening an alert)."""
    found = session.get(Suppression, (subject_reference, entry_id))
    return found is not None and found.subject_hash == subject_hash and found.entry_hash == entry_hash


# Marks on /v1/screen -----------------------------------------------------------------------------------------------

def mark_decided(session: Session, results: Iterable[tuple[str | None, list[dict[str, Any]]]],
                 entries: dict[str, dict[str, Any]]) -> None:
    """Add `decision` to each match of a screening with a reference whose (reference, entry) was decided on an
    alert and is still about the same data: a false positive whose suppression's entry hash equals the entry's
    current content hash (and the subject's data hash, when the subject is monitored, is unchanged), or a true
    match (confirmed or pending) opened on the current content. Matches are marked, never hidden."""
    results = [(ref, matches) for ref, matches in results if ref and matches]
    if not results:
        return
    references = sorted({ref for ref, _ in results})
    wanted = {(ref, m["entry_id"]) for ref, matches in results for m in matches}
    entry_ids = {eid for _, eid in wanted}
    current = {eid: content_hash(entries[eid]) for eid in entry_ids if eid in entries}
    marks: dict[tuple[str, str], dict[str, Any]] = {}
    # By reference only, in chunks: a batch of 1,000 queries with 100 matches each would pass SQLite's limit of
    # bound parameters if the entry ids were listed too; a reference has few decided pairs, filtered here.
    for start in range(0, len(references), REFERENCE_CHUNK):
        chunk = references[start:start + REFERENCE_CHUNK]
        subject_hashes = dict(session.execute(select(Subject.reference, Subject.data_hash)
                                              .where(Subject.reference.in_(chunk))).all())
        for sup in session.scalars(select(Suppression).where(Suppression.subject_reference.in_(chunk))):
            pair = (sup.subject_reference, sup.entry_id)
            subject_hash = subject_hashes.get(sup.subject_reference)
            if pair in wanted and sup.entry_hash == current.get(sup.entry_id) \
                    and subject_hash in (None, sup.subject_hash):
                marks[pair] = {"status": "false_positive", "alert_id": sup.alert_id}
        for alert in session.scalars(select(Alert).where(Alert.subject_reference.in_(chunk),
                                                         Alert.status.in_(("true_match", "pending_confirmation")))
                                     .order_by(Alert.id)):
            pair = (alert.subject_reference, alert.entry_id)
            if pair in wanted and alert.entry_hash == current.get(alert.entry_id):
                marks[pair] = {"status": alert.status, "alert_id": alert.id}
    if not marks:
        return
    last: dict[int, AlertDecision] = {}
    alert_ids = sorted({m["alert_id"] for m in marks.values()})
    for start in range(0, len(alert_ids), REFERENCE_CHUNK):
        for row in session.scalars(select(AlertDecision).where(
                AlertDecision.alert_id.in_(alert_ids[start:start + REFERENCE_CHUNK]),
                AlertDecision.decision != "reverse").order_by(AlertDecision.id)):
            last[row.alert_id] = row  # in id order: the last standing decision wins
    for ref, matches in results:
        for match in matches:
            mark = marks.get((ref, match["entry_id"]))
            if mark is not None:
                row = last.get(mark["alert_id"])
                match["decision"] = {**mark, "decided_at": iso_utc(row.created_at, "seconds") if row else None,
                                     "note": row.note if row else None}

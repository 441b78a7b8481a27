"""Ongoing monitoring's routes: subjects (admin writes, screener reads), runs, alerts.

Alerts are readable by screener and admin keys (and an "analyst" role once it exists: `require("screener")` lets
every role above screener through).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, request
from sqlalchemy import func, or_, select

from .. import monitoring
from ..auth import require
from ..db import get_session
from ..errors import ApiError
from ..monitoring_models import Alert, AlertDecision, MonitoringRun, Subject
from .audit import time_arg
from .entries import choice_arg, int_arg

bp = Blueprint("monitoring", __name__, url_prefix="/v1")
ALERT_STATUSES = ("open", "pending_confirmation", "true_match", "false_positive", "live", "cleared")


def _bad(field: str, message: str, status: int = 400) -> ApiError:
    return ApiError(status, "Invalid request", f"{field}: {message}.", errors=[{"field": field, "message": message}],
                    slug="validation")


def _text_arg(name: str, limit: int = 500) -> str | None:
    raw = request.args.get(name)
    if raw is not None and len(raw) > limit:
        raise _bad(name, f"at most {limit} characters")
    return raw


# Subjects ----------------------------------------------------------------------------------------------------------

@bp.post("/monitoring/subjects")
@require("admin")
def upsert_subjects() -> Any:
    mimetype = request.mimetype or ""
    if mimetype in ("text/csv", "application/csv"):
        raw = request.get_data()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _bad("(body)", "the CSV must be UTF-8") from None
        try:
            items: list[tuple[Any, Any]] = list(monitoring.parse_csv(text))
        except ValueError as exc:
            raise _bad("(body)", str(exc)) from None
        label = "line"
        if not items:
            raise _bad("(body)", "the CSV holds no subjects (header: reference,name,type,birth_date,country)")
    else:
        body = request.get_json(silent=True)
        if body is None:
            raise _bad("(body)", "expected a JSON object, a JSON array of objects, or a text/csv body")
        items = list(enumerate(body)) if isinstance(body, list) else [(0, body)]
        label = "index"
        if not items:
            raise _bad("(body)", "at least one subject")
    if len(items) > monitoring.MAX_SUBJECTS_PER_REQUEST:
        raise _bad("(body)", f"at most {monitoring.MAX_SUBJECTS_PER_REQUEST} subjects per request", 413)
    session = get_session()
    report = monitoring.upsert_subjects(session, items, actor=g.principal.label, label=label)
    session.commit()
    stored = report["created"] + report["updated"] + report["unchanged"]
    if not stored:
        raise ApiError(400, "Invalid request", "No subject was valid; nothing was stored.",
                       errors=[{"field": f"{label} {e[label]}: {e['field']}", "message": e["message"]}
                               for e in report["errors"]][:1000], slug="validation")
    return {**report, "stored": stored}, 207 if report["errors"] else 200


@bp.get("/monitoring/subjects")
@require("screener")
def list_subjects() -> Any:
    limit, offset = int_arg("limit", 100, 1, 1000), int_arg("offset", 0, 0, 10**9)
    cursor = _text_arg("cursor", 200)
    q = _text_arg("q")
    wanted_type = choice_arg("type", monitoring.SUBJECT_TYPES)
    since = time_arg("updated_since")
    query = select(Subject)
    if q:
        pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(func.lower(Subject.name).like(pattern, escape="\\"),
                                func.lower(Subject.reference).like(pattern, escape="\\")))
    if wanted_type:
        query = query.where(Subject.type == wanted_type)
    if since is not None:
        query = query.where(Subject.updated_at >= since)
    if cursor is not None:
        query = query.where(Subject.reference > cursor)
        offset = 0
    rows = list(get_session().scalars(query.order_by(Subject.reference).offset(offset).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"subjects": [monitoring.subject_json(s) for s in rows], "limit": limit, "offset": offset,
            "next_cursor": rows[-1].reference if more and rows else None}


def _subject(reference: str) -> Subject:
    subject = get_session().get(Subject, reference)
    if subject is None:
        raise ApiError(404, "Not Found", f"No subject {reference!r}.", slug="subject-not-found")
    return subject


@bp.get("/monitoring/subjects/<reference>")
@require("screener")
def get_subject(reference: str) -> Any:
    subject = _subject(reference)
    live = get_session().scalar(select(func.count()).select_from(Alert).where(
        Alert.subject_reference == reference, Alert.live_key.is_not(None)))
    return {**monitoring.subject_json(subject), "live_alerts": live}


@bp.delete("/monitoring/subjects/<reference>")
@require("admin")
def delete_subject(reference: str) -> Any:
    session = get_session()
    if not monitoring.delete_subject(session, reference, actor=g.principal.label):
        raise ApiError(404, "Not Found", f"No subject {reference!r}.", slug="subject-not-found")
    session.commit()
    return "", 204


# Runs --------------------------------------------------------------------------------------------------------------

@bp.post("/monitoring/runs")
@require("admin")
def create_run() -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or body.get("kind") != "full" or set(body) != {"kind"}:
        raise _bad("kind", 'the body must be {"kind": "full"}')
    run_id = monitoring.queue_full_run(current_app, actor=g.principal.label)
    if run_id is None:
        raise ApiError(409, "Conflict", "There is no list to screen against yet.", slug="no-list")
    run = get_session().get(MonitoringRun, run_id)
    assert run is not None, run_id
    return monitoring.run_json(run), 202


@bp.get("/monitoring/runs")
@require("screener")
def list_runs() -> Any:
    limit, offset = int_arg("limit", 50, 1, 1000), int_arg("offset", 0, 0, 10**9)
    rows = get_session().scalars(select(MonitoringRun).order_by(MonitoringRun.id.desc()).offset(offset).limit(limit))
    return {"runs": [monitoring.run_json(r) for r in rows], "limit": limit, "offset": offset}


def _id(raw: str) -> int:
    """A path id; one no row can have (not digits, or past a 32-bit integer) is 404 like a missing one."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else 0


@bp.get("/monitoring/runs/<run_id>")
@require("screener")
def get_run(run_id: str) -> Any:
    run = get_session().get(MonitoringRun, _id(run_id))
    if run is None:
        raise ApiError(404, "Not Found", f"No run {run_id}.", slug="run-not-found")
    return monitoring.run_json(run)


# Alerts ------------------------------------------------------------------------------------------------------------

@bp.get("/alerts")
@require("screener")
def list_alerts() -> Any:
    limit, offset = int_arg("limit", 100, 1, 1000), int_arg("offset", 0, 0, 10**9)
    status = choice_arg("status", ALERT_STATUSES)
    reference, entry_id = _text_arg("reference", 200), _text_arg("entry_id", 200)
    since = time_arg("since")
    rows = get_session().scalars(alerts_query(status, reference, entry_id, since).offset(offset).limit(limit))
    return {"alerts": [monitoring.alert_json(a) for a in rows], "limit": limit, "offset": offset}


def alerts_query(status: str | None, reference: str | None, entry_id: str | None, since: Any) -> Any:
    """The alerts these filters select, newest first (also the interface's queue)."""
    query = select(Alert)
    if status == "live":
        query = query.where(Alert.live_key.is_not(None))
    elif status == "cleared":
        query = query.where(Alert.live_key.is_(None))
    elif status:
        query = query.where(Alert.status == status)
    if reference is not None:
        query = query.where(Alert.subject_reference == reference)
    if entry_id is not None:
        query = query.where(Alert.entry_id == entry_id)
    if since is not None:
        query = query.where(Alert.created_at >= since)
    return query.order_by(Alert.id.desc())


@bp.get("/alerts/<alert_id>")
@require("screener")
def get_alert(alert_id: str) -> Any:
    session = get_session()
    alert = session.get(Alert, _id(alert_id))
    if alert is None:
        raise ApiError(404, "Not Found", f"No alert {alert_id}.", slug="alert-not-found")
    decisions = list(session.scalars(select(AlertDecision).where(AlertDecision.alert_id == alert.id)
                                     .order_by(AlertDecision.created_at, AlertDecision.id)))
    return monitoring.alert_json(alert, decisions)

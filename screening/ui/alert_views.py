"""The alert queue, an alert beside its entry, and decisions on it (screening.decisions, as the API decides)."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, redirect, render_template, request, url_for
from sqlalchemy import func, select

from .. import decisions
from ..api.monitoring import ALERT_STATUSES, alerts_query
from ..api.render import citation_json
from ..db import get_session, write_sessions
from ..errors import ApiError
from ..liststate import get_state
from ..monitoring_models import Alert, Subject
from . import bp, needs, page_error

PAGE = 50


def _filters() -> dict[str, str]:
    return {k: (request.args.get(k) or "").strip()[:200] for k in ("status", "reference", "entry_id")}


@bp.get("/alerts")
@needs("analyst")
def alerts() -> Any:
    filters = _filters()
    status = filters["status"] or None
    if status is not None and status not in ALERT_STATUSES:
        return page_error(400, "Invalid filter", f"status must be one of {', '.join(ALERT_STATUSES)}.")
    page = request.args.get("page", "1")
    number = int(page) if page.isascii() and page.isdigit() and 0 < len(page) <= 6 and int(page) > 0 else 1
    query = alerts_query(status, filters["reference"] or None, filters["entry_id"] or None, None)
    session = get_session()
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = list(session.scalars(query.offset((number - 1) * PAGE).limit(PAGE)))
    return render_template("alerts.html", alerts=rows, filters=filters, statuses=ALERT_STATUSES, page=number,
                           total=total, pages=max(1, -(-(total or 0) // PAGE)))


def _alert(alert_id: str) -> Alert:
    alert = get_session().get(Alert, int(alert_id)) if alert_id.isascii() and alert_id.isdigit() \
        and len(alert_id) <= 9 else None
    if alert is None:
        raise ApiError(404, "Not found", f"There is no alert {alert_id[:20]}.")
    return alert


def _alert_page(alert: Alert, *, error: str | None = None, note: str = "", status: int = 200) -> Any:
    session = get_session()
    snapshot = get_state(current_app).snapshot()
    entry = snapshot.entries.get(alert.entry_id)
    subject = session.get(Subject, alert.subject_reference)
    rows = decisions.decisions_of(session, alert.id)
    pending_by_me = alert.status == "pending_confirmation" and any(
        r.decision == "true_match" and r.key_id == g.principal.key_id for r in rows[-1:])
    citations = [citation_json(c, snapshot.sources) for c in entry["citations"]] if entry else alert.citations
    return render_template("alert.html", alert=alert, entry=entry, subject=subject, decisions=rows,
                           citations=citations, four_eyes=bool(current_app.config.get("FOUR_EYES")),
                           pending_by_me=pending_by_me, error=error, note=note,
                           list_version=snapshot.version), status


@bp.get("/alerts/<alert_id>")
@needs("analyst")
def alert(alert_id: str) -> Any:
    return _alert_page(_alert(alert_id))


@bp.post("/alerts/<alert_id>/decision")
@needs("analyst")
def alert_decision(alert_id: str) -> Any:
    found = _alert(alert_id)
    note = request.form.get("note", "")
    try:
        parsed = decisions.parse_request({"decision": request.form.get("decision"), "note": note})
        if "db_session" in g:  # the request's read session lets go of SQLite before the write lock is taken
            g.db_session.rollback()
        with write_sessions(current_app)() as session:
            decisions.decide(session, found.id, parsed, g.principal,
                             four_eyes=bool(current_app.config.get("FOUR_EYES")))
            session.commit()
    except ApiError as exc:
        get_session().expire_all()
        message = "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors) if exc.errors else exc.detail
        return _alert_page(_alert(alert_id), error=message, note=note, status=exc.status)
    return redirect(url_for("ui.alert", alert_id=found.id, decided=1), code=303)

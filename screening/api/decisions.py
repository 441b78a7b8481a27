"""Deciding alerts (POST /v1/alerts/{id}/decision, analyst or admin) and reading an alert's webhook deliveries
(GET /v1/alerts/{id}/deliveries, admin). Listing and reading alerts is screening.api.alerts' part."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, request
from sqlalchemy import select

from .. import decisions
from ..auth import require
from ..db import get_session, write_sessions
from ..errors import ApiError
from ..monitoring_models import Alert, WebhookDelivery
from ..notifications import delivery_json

bp = Blueprint("decisions", __name__, url_prefix="/v1")
MAX_ALERT_ID = 2**31 - 1


def _alert_id(raw: str) -> int:
    # The path takes any text (the guard's rule names match the spec's); an id that is not a number is no alert.
    # Ids are 32-bit integers (PostgreSQL refuses a larger parameter outright, rather than finding no row).
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10 or int(raw) > MAX_ALERT_ID:
        raise ApiError(404, "Not Found", f"There is no alert {raw[:20]}.", slug="not-found")
    return int(raw)


@bp.post("/alerts/<alert_id>/decision")
@require("analyst")
def decide(alert_id: str) -> Any:
    number = _alert_id(alert_id)
    body = request.get_json(silent=True)
    parsed = decisions.parse_request(body)
    # A write session: on SQLite it takes the write lock up front (BEGIN IMMEDIATE), so two decisions run one after
    # the other and the second reads the first's status; on PostgreSQL the conditional UPDATE settles it.
    with write_sessions(current_app)() as session:
        alert, rows = decisions.decide(session, number, parsed, g.principal,
                                       four_eyes=bool(current_app.config.get("FOUR_EYES")))
        answer = {"alert_id": alert.id, "status": alert.status, "subject_reference": alert.subject_reference,
                  "entry_id": alert.entry_id, "decisions": [decisions.decision_json(r) for r in rows]}
        session.commit()
    return answer


@bp.get("/alerts/<alert_id>/deliveries")
@require("admin")
def deliveries(alert_id: str) -> Any:
    number = _alert_id(alert_id)
    session = get_session()
    if session.get(Alert, number) is None:
        raise ApiError(404, "Not Found", f"There is no alert {number}.", slug="not-found")
    rows = session.scalars(select(WebhookDelivery).where(WebhookDelivery.alert_id == number)
                           .order_by(WebhookDelivery.id))
    return {"alert_id": number, "deliveries": [delivery_json(r) for r in rows]}

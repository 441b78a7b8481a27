"""The audit trail: list changes and screenings, filtered and paged (role admin)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Blueprint, request
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..auth import require
from ..db import get_session
from ..errors import ApiError
from ..models import AuditEvent, iso_utc, utcnow
from .entries import int_arg

bp = Blueprint("audit", __name__, url_prefix="/v1")
KINDS = ("list", "screening", "monitoring")


def time_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "Invalid request", f"{name} must be an ISO 8601 time.",
                       errors=[{"field": name, "message": "expected an ISO 8601 date or time"}],
                       slug="validation") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def event_json(event: AuditEvent) -> dict[str, Any]:
    # (iso_utc, not astimezone: SQLite gives the stored UTC time back naive, which astimezone would read as local.)
    return {"id": event.id, "time": iso_utc(event.occurred_at),
            "kind": event.kind, "action": event.action, "actor": event.actor, "list_version": event.list_version,
            "reference": event.reference, "data": event.data}


@bp.get("/audit")
@require("admin")
def audit() -> Any:
    kind = request.args.get("kind")
    if kind is not None and kind not in KINDS:
        raise ApiError(400, "Invalid request", f"kind must be one of {', '.join(KINDS)}.",
                       errors=[{"field": "kind", "message": f"must be one of {', '.join(KINDS)}"}], slug="validation")
    limit = int_arg("limit", 100, 1, 1000)
    cursor = request.args.get("cursor")
    if cursor is not None and not (cursor.isascii() and cursor.isdigit() and int(cursor) < 2**63):
        raise ApiError(400, "Invalid request", "cursor must be the next_cursor of a previous page.",
                       errors=[{"field": "cursor", "message": "not a cursor"}], slug="validation")
    page, next_cursor = search(get_session(), kind=kind, actor=request.args.get("actor"),
                               reference=request.args.get("reference"), since=time_arg("since"),
                               until=time_arg("until"), cursor=int(cursor) if cursor else None, limit=limit)
    return {"events": [event_json(e) for e in page], "next_cursor": next_cursor}


def search(session: Session, *, kind: str | None, actor: str | None, reference: str | None,
           since: datetime | None, until: datetime | None, cursor: int | None,
           limit: int) -> tuple[list[AuditEvent], str | None]:
    """Events newest first, filtered (exact actor and reference), after `cursor`; and the next page's cursor.
    (Also the interface's audit page.)"""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit + 1)
    if kind:
        query = query.where(AuditEvent.kind == kind)
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    if reference is not None:
        query = query.where(AuditEvent.reference == reference)
    if since is not None:
        query = query.where(AuditEvent.occurred_at >= since)
    if until is not None:
        query = query.where(AuditEvent.occurred_at < until)
    if cursor:
        query = query.where(AuditEvent.id < cursor)
    rows = list(session.scalars(query))
    page = rows[:limit]
    return page, str(page[-1].id) if len(rows) > limit else None


def prune_screenings(session: Session, retention_days: int) -> int:
    """Delete screening records older than the retention period; list changes are kept for good."""
    cutoff = utcnow() - timedelta(days=retention_days)
    result = session.execute(delete(AuditEvent).where(AuditEvent.kind == "screening",
                                                      AuditEvent.occurred_at < cutoff))
    return result.rowcount or 0

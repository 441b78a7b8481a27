"""The audit trail (admin): search by time, actor, kind, reference (screening.api.audit.search)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import render_template, request

from ..api.audit import KINDS, search
from ..db import get_session
from . import bp, needs

PAGE = 50


def _time(raw: str) -> datetime | None:
    """A date, a datetime-local field's value or ISO 8601; UTC unless it says otherwise."""
    if not raw:
        return None
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@bp.get("/audit")
@needs("admin")
def audit() -> Any:
    values = {k: (request.args.get(k) or "").strip()[:200] for k in ("since", "until", "actor", "kind", "reference",
                                                                       "cursor")}
    errors = []
    times: dict[str, datetime | None] = {}
    for name in ("since", "until"):
        try:
            times[name] = _time(values[name])
        except ValueError:
            errors.append({"field": name, "message": "expected a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM)"})
    if values["kind"] and values["kind"] not in KINDS:
        errors.append({"field": "kind", "message": f"must be one of {', '.join(KINDS)}"})
    cursor = values["cursor"]
    if cursor and not (cursor.isascii() and cursor.isdigit() and len(cursor) < 19):
        errors.append({"field": "cursor", "message": "not a cursor of this page"})
    events, next_cursor = [], None
    if not errors:
        events, next_cursor = search(get_session(), kind=values["kind"] or None, actor=values["actor"] or None,
                                     reference=values["reference"] or None, since=times["since"],
                                     until=times["until"], cursor=int(cursor) if cursor else None, limit=PAGE)
    more = {k: v for k, v in values.items() if k != "cursor" and v}
    return render_template("audit.html", values=values, kinds=KINDS, events=events, errors=errors,
                           next_cursor=next_cursor, more=more), 400 if errors else 200

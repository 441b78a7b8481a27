"""Operations: liveness and readiness."""

from __future__ import annotations

import os
from typing import Any

from flask import Blueprint, current_app
from sqlalchemy import text

from ..db import get_session
from ..errors import problem
from ..liststate import get_state

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> Any:
    try:
        get_session().execute(text("SELECT 1"))
        snapshot = get_state(current_app).snapshot()
    except Exception as exc:  # the database is down or the schema is missing: not ready, and say why
        return problem(503, "Service Unavailable", f"Not ready: {type(exc).__name__}: {exc}"[:500])
    if snapshot.version is None:
        return problem(503, "Service Unavailable", "No list is loaded: run `screening load-list`.",
                       extra={"list_version": None})
    return {"status": "ready", "list_version": snapshot.version, "entries": len(snapshot.entries),
            "names_indexed": len(snapshot.matcher.records), "worker_pid": os.getpid()}

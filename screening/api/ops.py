"""Operations: liveness and readiness. Neither needs a key, so neither tells what failed in detail: driver errors
name socket paths, hosts and users. The reasons go to the log; the answer names only which check failed."""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Blueprint, current_app, request
from sqlalchemy import text

from ..db import database_file, get_session
from ..errors import RETRY_AFTER_SECONDS, ApiError, problem, rollback_request_session
from ..liststate import ListSnapshot, get_state

bp = Blueprint("ops", __name__)
log = logging.getLogger(__name__)

OK, FAILED = "ok", "failed"


@bp.get("/healthz")
def healthz() -> Any:
    return {"status": "ok"}


def _key_holder() -> bool:
    """A valid key of any role came with the request (readiness itself never needs one)."""
    if not request.headers.get("Authorization"):
        return False
    from ..auth import current_principal

    try:
        current_principal()
    except ApiError:
        return False
    return True


@bp.get("/readyz")
def readyz() -> Any:
    checks: dict[str, str] = {}
    db_file = database_file(current_app)
    if db_file is not None:
        # A deleted or replaced SQLite file still answers SELECT 1 on open connections: check the file itself.
        reason = db_file.problem()
        checks["database_file"] = OK if reason is None else FAILED
        if reason is not None:
            log.error("not ready: SQLite database file %s %s", db_file.path, reason)
    try:
        get_session().execute(text("SELECT 1"))
        checks["database"] = OK
    except Exception:  # noqa: BLE001 - any failure means not ready; the log has the reason
        log.error("not ready: database check failed", exc_info=True)
        rollback_request_session()
        checks["database"] = FAILED
    snapshot: ListSnapshot | None = None
    if checks["database"] == OK:
        try:
            snapshot = get_state(current_app).snapshot()
        except Exception:  # noqa: BLE001 - e.g. the schema is missing
            log.error("not ready: the list could not be loaded", exc_info=True)
    checks["list"] = OK if snapshot is not None and snapshot.version is not None else FAILED
    if snapshot is not None and snapshot.version is None:
        log.warning("not ready: no list is loaded; run `screening load-list`")

    failed = [name for name, state in checks.items() if state != OK]
    if failed:
        # problem+json like every error, so `status` is 503 here; `checks` says which failed (the log says why).
        response = problem(503, "Not ready", f"Not ready: {', '.join(failed)} check failed.", slug="not-ready",
                           extra={"checks": checks})
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    assert snapshot is not None  # every check passed
    body: dict[str, Any] = {"status": "ready", "checks": checks, "list_version": snapshot.version}
    if _key_holder():
        # For operators and tests that tell workers apart; a process id is no business of an anonymous caller.
        body.update(entries=len(snapshot.entries), names_indexed=len(snapshot.matcher.records),
                    worker_pid=os.getpid())
    return body

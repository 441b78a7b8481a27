"""One error shape everywhere: RFC 9457 problem+json, with `errors` [{field, message}] for validation."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, json
from pydantic import ValidationError
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://screening.invalid/problems/"
# How long a client is asked to wait when the database cannot be reached: a restart or failover takes seconds.
RETRY_AFTER_SECONDS = 5


class ApiError(Exception):
    def __init__(self, status: int, title: str, detail: str, *, errors: list[dict[str, Any]] | None = None,
                 slug: str | None = None, extra: dict[str, Any] | None = None):
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.errors, self.slug, self.extra = errors, slug, extra or {}


def problem_body(status: int, title: str, detail: str, *, errors: list[dict[str, Any]] | None = None,
                 slug: str | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The problem document; also written by gunicorn's own error answers (gunicorn_conf), outside Flask."""
    body: dict[str, Any] = {"type": PROBLEM_TYPE_BASE + (slug or title.lower().replace(" ", "-")),
                            "title": title, "status": status, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    body.update(extra or {})
    return body


def problem(status: int, title: str, detail: str, *, errors: list[dict[str, Any]] | None = None,
            slug: str | None = None, extra: dict[str, Any] | None = None) -> Response:
    body = problem_body(status, title, detail, errors=errors, slug=slug, extra=extra)
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="screening"'
    return response


def validation_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, Any]]:
    out = []
    for item in exc.errors():
        field = ".".join(str(p) for p in item["loc"] if p != "__root__")
        out.append({"field": f"{prefix}{field}" if field else (prefix.rstrip(".") or "(body)"),
                    "message": item["msg"]})
    return out


def database_unavailable() -> Response:
    response = problem(503, "Service Unavailable", "The database cannot be reached; try again shortly.",
                       slug="database-unavailable")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def is_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached or used right now (down, restarting, connection lost, pool exhausted, SQLite
    file gone or locked) as opposed to a fault in a statement: a retry later can succeed."""
    if isinstance(exc, (sa_exc.TimeoutError, sa_exc.DisconnectionError)):
        return True
    return isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)) or (
        isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated)


def rollback_request_session() -> None:
    """Roll the request's session back after a database error; on a lost connection that can fail too."""
    session = g.get("db_session")
    if session is None:
        return
    try:
        session.rollback()
    except Exception:  # noqa: BLE001 - the connection is gone already; close() in teardown releases it
        log.debug("rollback after a database error failed", exc_info=True)


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return problem(exc.status, exc.title, exc.detail, errors=exc.errors, slug=exc.slug, extra=exc.extra)

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError) -> Response:
        return problem(400, "Invalid request", "The request does not match the schema.",
                       errors=validation_errors(exc), slug="validation")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        response = problem(status, exc.name, exc.description or exc.name)
        if status == 405 and exc.response is None:
            allowed = getattr(exc, "valid_methods", None)
            if allowed:
                response.headers["Allow"] = ", ".join(allowed)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, "Internal Server Error", "The server failed to answer; the error was logged.")

    @app.errorhandler(sa_exc.SQLAlchemyError)
    def _database(exc: sa_exc.SQLAlchemyError) -> Response:
        # Engines hide bound parameters (db.make_engine), so the message logged here names no screened value.
        rollback_request_session()
        if is_unavailable(exc):
            log.error("database unavailable: %s", exc)
            return database_unavailable()
        return _unexpected(exc)

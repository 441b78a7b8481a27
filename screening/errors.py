"""One error shape everywhere: RFC 9457 problem+json, with `errors` [{field, message}] for validation."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://screening.invalid/problems/"


class ApiError(Exception):
    def __init__(self, status: int, title: str, detail: str, *, errors: list[dict[str, Any]] | None = None,
                 slug: str | None = None, extra: dict[str, Any] | None = None):
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.errors, self.slug, self.extra = errors, slug, extra or {}


def problem(status: int, title: str, detail: str, *, errors: list[dict[str, Any]] | None = None,
            slug: str | None = None, extra: dict[str, Any] | None = None) -> Response:
    body: dict[str, Any] = {"type": PROBLEM_TYPE_BASE + (slug or title.lower().replace(" ", "-")),
                            "title": title, "status": status, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    body.update(extra or {})
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

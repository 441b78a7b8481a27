"""The analyst interface: server-rendered pages under /ui on top of the same functions the JSON API calls.

Sign-in takes an API key and opens a server-side session (ui/sessions.py); the key's role decides what is shown
and allowed, exactly as on the API (screener < analyst < admin). Every POST carries the session's CSRF token. The
pages need no script; htmx (static/vendor) only makes a running job's progress bar move by itself.
"""

from __future__ import annotations

import logging
from functools import wraps
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, g, make_response, redirect, render_template, request, url_for
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from ..api.guard import unstorable
from ..auth import RANK, ROLES
from ..db import get_session
from ..errors import ApiError
from . import sessions

bp = Blueprint("ui", __name__, url_prefix="/ui", template_folder="templates", static_folder="static",
               static_url_path="/static")
F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)
PUBLIC_ENDPOINTS = {"ui.static", "ui.sign_in"}
# Uploads may be larger than a JSON body (MAX_BODY_BYTES): the limit is raised before the form (and its CSRF token)
# is read, like the API's own upload views do.
UPLOAD_LIMITS = {"ui.bulk": "MAX_CSV_BYTES", "ui.list_import": "MAX_IMPORT_BYTES"}
# What each role sees in the navigation, in order: (endpoint, label, least role).
NAVIGATION = [("ui.screen", "Screen", "screener"), ("ui.bulk", "Bulk", "screener"),
              ("ui.entries", "List", "screener"), ("ui.alerts", "Alerts", "analyst"),
              ("ui.versions", "Versions", "screener"), ("ui.list_import", "Import", "admin"),
              ("ui.audit", "Audit", "admin")]


def allowed(role: str) -> bool:
    principal = g.get("principal")
    return principal is not None and RANK.get(principal.role, -1) >= RANK[role]


def needs(role: str) -> Callable[[F], F]:
    """View decorator: the signed-in key must have `role` or a higher one (a 403 page otherwise)."""
    if role not in RANK:
        raise ValueError(role)

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not allowed(role):
                return page_error(403, "Not for this key",
                                  f"This page needs a key with the {role} role"
                                  + (" or a higher one." if role != ROLES[-1] else "."))
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def safe_next(target: str | None) -> str:
    """Where to go after sign-in: only a path of this interface (never another site: an open redirect)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/ui/") and "\\" not in target:
            return target
    return url_for("ui.screen")


def page_error(status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None) -> Response:
    response = make_response(render_template("error.html", status=status, title=title, detail=detail,
                                             errors=errors or []), status)
    return response


def csrf_token() -> str:
    current = g.get("ui_session")
    return current.row.csrf_token if current is not None else ""


@bp.before_request
def _session_and_csrf() -> Response | None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    current = sessions.load(get_session(), request.cookies.get(sessions.COOKIE), current_app.config)
    if current is None:
        if request.headers.get("HX-Request"):  # a poll from a page whose session ended: send the page to sign-in
            response = Response(status=204)
            response.headers["HX-Redirect"] = url_for("ui.sign_in")
            return response
        wanted = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("ui.sign_in", next=wanted) if wanted else url_for("ui.sign_in"))
    g.ui_session = current
    g.principal = current.principal  # what the API's functions read (audit actor, job owner, decisions)
    if request.method == "POST":
        limit = UPLOAD_LIMITS.get(request.endpoint or "")
        if limit:
            request.max_content_length = current_app.config[limit]
        if not sessions.same_token(current.row.csrf_token, request.form.get("csrf_token")):
            return page_error(400, "Form expired", "This form does not carry this session's token (it was opened "
                                                   "in another session, or came from another site). Open the page "
                                                   "again and resend it.")
        check_form()
    return None


def check_form() -> None:
    """A form field holding text no database stores alike (a NUL, a lone surrogate) is refused before anything is
    screened or written, as the API's guard refuses it in a JSON body."""
    for name, value in request.form.items(multi=True):
        why = unstorable(name) or unstorable(value)
        if why is not None:
            raise ApiError(400, "Invalid request", f"{name[:50]} {why}.", errors=[{"field": name[:50], "message": why}])


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    if not request.path.startswith("/ui"):
        return {}
    principal = g.get("principal")
    nav = [(endpoint, label) for endpoint, label, role in NAVIGATION if principal is not None and allowed(role)]
    return {"principal": principal, "csrf_token": csrf_token, "allowed": allowed, "navigation": nav}


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    return page_error(exc.status, exc.title, exc.detail, exc.errors)


@bp.errorhandler(ValidationError)
def _validation(exc: ValidationError) -> Response:
    from ..errors import validation_errors

    return page_error(400, "Invalid request", "Some fields are not valid.", validation_errors(exc))


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException) -> Response:
    status = exc.code or 500
    return page_error(status, exc.name, exc.description or exc.name)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    from ..errors import is_unavailable, rollback_request_session

    rollback_request_session()
    if is_unavailable(exc):
        return page_error(503, "Service unavailable", "The database cannot be reached; try again shortly.")
    log.exception("unhandled error in the interface")
    return page_error(500, "Server error", "The server failed to answer; the error was logged.")


@bp.route("/<path:rest>")
def not_found(rest: str) -> Response:
    return page_error(404, "Not found", "There is no such page.")


def init_app(app: Flask) -> None:
    from . import alert_views, audit_views, auth_views, list_views, screen_views  # noqa: F401 - routes join bp

    app.register_blueprint(bp)

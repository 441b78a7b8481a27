"""Signing in with an API key, and out."""

from __future__ import annotations

import secrets

from flask import Response, current_app, g, make_response, redirect, render_template, request, url_for

from ..api.guard import unstorable
from ..auth import verify_key
from ..db import get_session
from . import bp, safe_next, sessions


def _cookie_args() -> dict[str, object]:
    # Secure when the request came over https: directly, or through a TLS-terminating proxy whose X-Forwarded-Proto
    # gunicorn trusts (FORWARDED_ALLOW_IPS; tests/test_workers.py). A plain-http local trial must still sign in.
    return {"httponly": True, "samesite": "Strict", "secure": request.is_secure, "path": "/ui"}


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Response:
    """The form carries a token also set as a cookie (double submit): a site cannot sign a browser in with its own
    key (login CSRF), since it can neither read nor set this cookie."""
    error = None
    status = 200
    target = safe_next(request.values.get("next"))
    presented_pre = request.cookies.get(sessions.PRE_COOKIE)
    if request.method == "POST":
        key = (request.form.get("api_key") or "").strip()
        if not sessions.same_token(presented_pre, request.form.get("signin_token")):
            error, status = "The sign-in form expired; please try again.", 400
        elif not key:
            error, status = "Enter your API key.", 400
        else:
            db = get_session()
            # A key holding a NUL is no key, and PostgreSQL could not even be asked about it.
            principal = verify_key(db, key) if unstorable(key) is None and len(key) <= 200 else None
            if principal is None or principal.key_id is None:
                error, status = "This API key is not valid or was revoked.", 401
            else:
                sessions.close(db, request.cookies.get(sessions.COOKIE))  # a session signed in over ends here
                raw = sessions.open_session(db, principal.key_id, current_app.config)
                db.commit()
                response = redirect(target, code=303)
                response.set_cookie(sessions.COOKIE, raw, **_cookie_args())  # type: ignore[arg-type]
                response.delete_cookie(sessions.PRE_COOKIE, path="/ui")
                return response
    token = secrets.token_urlsafe(24)
    response = make_response(render_template("sign_in.html", error=error, signin_token=token,
                                             next=request.values.get("next") or ""), status)
    response.set_cookie(sessions.PRE_COOKIE, token, **_cookie_args())  # type: ignore[arg-type]
    return response


@bp.post("/sign-out")
def sign_out() -> Response:
    sessions.close(get_session(), request.cookies.get(sessions.COOKIE))
    g.pop("ui_session", None)
    response = redirect(url_for("ui.sign_in", signed_out=1), code=303)
    response.delete_cookie(sessions.COOKIE, path="/ui")
    return response

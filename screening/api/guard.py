"""Text that cannot be stored or answered is refused at the door, before anything is screened or written.

A JSON body may carry a lone surrogate ("\\ud800": valid JSON, not encodable as UTF-8) or a NUL (which PostgreSQL
cannot store in text, while SQLite can: the same input would get different answers on the two databases), and may
nest deeper than the parser can follow. Query arguments and path segments may carry a NUL (%00). Each is refused
here with one 400 problem+json naming the field, for every endpoint at once; the body parsed here is the one the
views read (Flask caches it).

Answers are made robust the other way round: the JSON provider escapes what UTF-8 cannot carry, so a row stored
before this guard existed (the audit trail keeps screenings for a year) never makes a page unreadable.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, current_app, request
from flask.json.provider import DefaultJSONProvider

from ..errors import ApiError

# NUL, and the UTF-16 surrogate code points that are not characters on their own.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MAX_JSON_DEPTH = 64  # far beyond any request of the contract; what a client sends past it is not a request


def unstorable(text: str) -> str | None:
    """Why a text cannot be stored and answered (None when it can)."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    return "must not contain NUL characters" if found.group() == "\x00" else "must not contain lone surrogates"


def _refuse(field: str, message: str) -> ApiError:
    return ApiError(400, "Invalid request", f"{field} {message}.", errors=[{"field": field, "message": message}],
                    slug="validation")


def _check_json(value: Any, path: str, depth: int = 0) -> None:
    if depth > MAX_JSON_DEPTH:
        raise _refuse(path or "(body)", f"nests deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        if (why := unstorable(value)) is not None:
            raise _refuse(path or "(body)", why)
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if (why := unstorable(key)) is not None:
                raise _refuse(child, why)
            _check_json(item, child, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, f"{path}.{index}" if path else str(index), depth + 1)  # as pydantic names it


def _documented_arguments() -> dict[tuple[str, str], frozenset[str]]:
    """The query arguments each documented operation takes, from the OpenAPI document (the one place they are
    listed), keyed by Flask's rule and method."""
    from ..openapi import build_spec

    out = {}
    for path, operations in build_spec()["paths"].items():
        rule = re.sub(r"\{(\w+)\}", lambda m: f"<{'int:' if m.group(1) == 'version' else ''}{m.group(1)}>", path)
        for method, operation in operations.items():
            out[(rule, method.upper())] = frozenset(
                p["name"] for p in operation.get("parameters", ()) if p["in"] == "query")
    return out


def check_request() -> None:
    """Refuse a request whose path segments, query arguments or JSON body hold text that cannot be stored, or that
    sends a query argument its operation does not take (a misspelt `treshold` silently ignored would screen at
    the default threshold)."""
    documented = current_app.extensions["documented_arguments"].get(
        (request.url_rule.rule if request.url_rule else "", request.method))
    if documented is not None and request.path.startswith("/v1/"):  # probes (/healthz?...) may add what they like
        for name in request.args:
            if name not in documented:
                raise _refuse(name or "(query)", "is not a parameter of this operation" + (
                    f" (it takes {', '.join(sorted(documented))})" if documented else " (it takes none)"))
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and (why := unstorable(value)) is not None:
            raise _refuse(name, why)
    for name, value in request.args.items(multi=True):
        if (why := unstorable(name) or unstorable(value)) is not None:
            raise _refuse(name if not unstorable(name) else "(query)", why)
    if request.is_json and request.content_length != 0:
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # the C parser follows nesting on the stack: a body of 100,000 '[' ends here
            raise _refuse("(body)", f"nests deeper than {MAX_JSON_DEPTH} levels") from None
        if body is not None:
            _check_json(body, "")


class SafeJSONProvider(DefaultJSONProvider):
    """Non-ASCII written as itself (readable names), except text UTF-8 cannot carry, which is escaped."""

    ensure_ascii = False
    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        text = super().dumps(obj, **kwargs)
        if _UNSTORABLE.search(text) is None:
            return text
        kwargs.setdefault("default", self.default)
        return json.dumps(obj, ensure_ascii=True, sort_keys=self.sort_keys, **kwargs)


def init_app(app: Flask) -> None:
    app.json = SafeJSONProvider(app)
    app.extensions["documented_arguments"] = _documented_arguments()
    app.before_request(check_request)

"""Request ids, JSON logs, security headers, request size limits, Prometheus metrics, and the OpenAPI document with a
docs page.

Under gunicorn every worker writes its metrics to PROMETHEUS_MULTIPROC_DIR (`screening serve` sets one up) and
/metrics adds them up across workers; without it (tests, --dev) the process's own registry is served.

The request log names the path, never the query string: queries carry screened names and references.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import time
import uuid
from typing import IO, Any

from flask import Blueprint, Flask, Request, Response, current_app, g, request
from markupsafe import escape
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest,
                               multiprocess)
from pythonjsonlogger.json import JsonFormatter
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_input_stream

from .errors import ApiError
from .openapi import build_spec

log = logging.getLogger("screening.request")
bp = Blueprint("observability", __name__)

REQUESTS = Counter("screening_http_requests_total", "HTTP requests", ["route", "method", "status"])
LATENCY = Histogram("screening_http_request_duration_seconds", "HTTP request latency", ["route"],
                    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
SCREENINGS = Counter("screening_screenings_total", "Names screened", ["via"])
MATCHES = Counter("screening_matches_total", "Matches returned", ["via"])
LIST_VERSION = Gauge("screening_list_version", "List version a worker serves", multiprocess_mode="max")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# The docs page's only resource is its own inline style; nothing else may load, frame it or be framed.
DOCS_STYLE = ("body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
              "padding:4px 8px;text-align:left;vertical-align:top}code{font-size:13px}")
_DOCS_STYLE_HASH = base64.b64encode(hashlib.sha256(DOCS_STYLE.encode()).digest()).decode()
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = (f"default-src 'none'; style-src 'sha256-{_DOCS_STYLE_HASH}'; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'none'")
# The analyst interface (/ui) loads its own script and style sheet, and nothing from anywhere else; no inline script
# or style, so no 'unsafe-inline'. Forms post to the interface only.
UI_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
          "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
# On every answer, the app's and gunicorn's own (gunicorn_conf). no-store: answers name screened people and keys'
# holders, and no proxy or browser cache should keep them.
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
                    "Cache-Control": "no-store", "Content-Security-Policy": API_CSP}


class RequestIdFilter(logging.Filter):
    """Adds the current request's id to every log record written while handling it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.request_id = g.get("request_id")
        except RuntimeError:  # outside a request
            record.request_id = None
        return True


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                       rename_fields={"asctime": "time", "levelname": "level"}))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))


def record_screenings(via: str, screened: int, matched: int, list_version: int | None) -> None:
    SCREENINGS.labels(via).inc(screened)
    MATCHES.labels(via).inc(matched)
    if list_version is not None:
        LIST_VERSION.set(list_version)


def check_request_size() -> None:
    """The request target and each header field within the app's limits (MAX_URL_BYTES, MAX_HEADER_BYTES): gunicorn's
    own limits are set above these (gunicorn_conf), so an over-long request is answered here, as problem+json."""
    target = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
    limit = current_app.config["MAX_URL_BYTES"]
    if len(target.encode("latin-1", "replace")) > limit:  # WSGI strings are bytes decoded as latin-1
        raise ApiError(414, "URI Too Long", f"The request target is longer than {limit} bytes.",
                       slug="uri-too-long")
    limit = current_app.config["MAX_HEADER_BYTES"]
    for name, value in request.headers.items():
        if len(name) + 2 + len(value.encode("latin-1", "replace")) > limit:
            raise ApiError(431, "Request Header Fields Too Large",
                           f"A header field is longer than {limit} bytes.", slug="request-header-fields-too-large")


class _BodyAtMost(LimitedStream):
    """A streamed body (chunked: no Content-Length) of at most `maximum` bytes, else 413. Werkzeug's own limit for
    such a body stops reading at the maximum without a word, so a longer body was cut short and parsed as if whole
    (a JSON body with trailing spaces, a CSV file missing its last rows). One byte past the maximum is read to tell
    a longer body from one of exactly the maximum."""

    def __init__(self, stream: IO[bytes], maximum: int):
        super().__init__(stream, maximum + 1, is_max=True)
        self.maximum = maximum

    def readinto(self, b: Any) -> int | None:
        read = super().readinto(b)
        if self.tell() > self.maximum:
            raise RequestEntityTooLarge()
        return read


class LimitedRequest(Request):
    """Flask's request with _BodyAtMost for streamed bodies; `max_content_length` is read when the body is first
    read, so a view can still raise it for its own body (CSV files, list imports)."""

    @cached_property
    def stream(self) -> IO[bytes]:
        limit = self.max_content_length
        if limit is not None and self.content_length is None and self.environ.get("wsgi.input_terminated"):
            return _BodyAtMost(self.environ["wsgi.input"], limit)
        return get_input_stream(self.environ, max_content_length=limit)


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    if request.path == "/docs" and response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = DOCS_CSP
    elif request.path == "/ui" or request.path.startswith("/ui/"):
        response.headers["Content-Security-Policy"] = UI_CSP
    return response


def require_key_unless(setting: str) -> None:
    """A valid API key of any role unless `setting` (PUBLIC_METRICS, PUBLIC_DOCS) makes the page public."""
    if not current_app.config[setting]:
        from .auth import current_principal

        g.principal = current_principal()


def init_app(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()
        check_request_size()

    @app.after_request
    def _finish(response: Response) -> Response:
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule else "(unmatched)"
        REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        LATENCY.labels(route).observe(elapsed)
        response.headers["X-Request-ID"] = g.get("request_id", "")
        principal = g.get("principal")
        log.info("request", extra={"method": request.method, "path": request.path, "route": route,
                                   "status": response.status_code, "duration_ms": round(elapsed * 1000, 2),
                                   "actor": principal.label if principal else None})
        return add_security_headers(response)

    app.register_blueprint(bp)


@bp.get("/metrics")
def metrics() -> Response:
    require_key_unless("PUBLIC_METRICS")
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)


@bp.get("/openapi.json")
def openapi_json() -> Any:
    require_key_unless("PUBLIC_DOCS")
    return build_spec()


@bp.get("/docs")
def docs() -> Response:
    """The API described from /openapi.json, rendered on the server (no script at all; see DOCS_CSP)."""
    require_key_unless("PUBLIC_DOCS")
    document = build_spec()
    rows = []
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            params = ", ".join(f"{p['name']}{'*' if p.get('required') else ''}" for p in op.get("parameters", []))
            body = ", ".join(op.get("requestBody", {}).get("content", {}))
            auth = "key" if op.get("security") else "open"
            codes = ", ".join(c for c in op["responses"] if c != "default")
            rows.append(f"<tr><td><code>{method.upper()}</code></td><td><code>{escape(path)}</code></td>"
                        f"<td>{escape(op['summary'])}</td><td>{escape(params)}</td><td>{escape(body)}</td>"
                        f"<td>{auth}</td><td>{codes}</td></tr>")
    schemas = "".join(f"<li><code>{escape(name)}</code>: {', '.join(escape(p) for p in s.get('properties', {}))}</li>"
                      for name, s in document["components"]["schemas"].items())
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(document['info']['title'])}</title>
<style>{DOCS_STYLE}</style></head><body>
<h1>{escape(document['info']['title'])}</h1><p>{escape(document['info']['description'])} Machine-readable:
<a href="/openapi.json">/openapi.json</a>. Send keys as <code>Authorization: Bearer &lt;key&gt;</code>;
errors are <code>application/problem+json</code>.</p>
<table><tr><th>method</th><th>path</th><th>what</th><th>parameters (* required)</th><th>body</th><th>auth</th>
<th>responses</th></tr>{''.join(rows)}</table><h2>Schemas</h2><ul>{schemas}</ul></body></html>"""
    return Response(html, mimetype="text/html")

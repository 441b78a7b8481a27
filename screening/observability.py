"""Request ids, JSON logs, Prometheus metrics, and the OpenAPI document with a docs page.

Under gunicorn every worker writes its metrics to PROMETHEUS_MULTIPROC_DIR (`screening serve` sets one up) and
/metrics adds them up across workers; without it (tests, --dev) the process's own registry is served.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from functools import lru_cache
from typing import Any

from flask import Blueprint, Flask, Response, g, request
from markupsafe import escape
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest,
                               multiprocess)
from pythonjsonlogger.json import JsonFormatter

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


def init_app(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()

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
        return response

    app.register_blueprint(bp)


@bp.get("/metrics")
def metrics() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    return build_spec()


@bp.get("/openapi.json")
def openapi_json() -> Any:
    return spec()


@bp.get("/docs")
def docs() -> Response:
    """The API described from /openapi.json, rendered on the server (no script from elsewhere)."""
    document = spec()
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
<style>body{{font:14px system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;
padding:4px 8px;text-align:left;vertical-align:top}}code{{font-size:13px}}</style></head><body>
<h1>{escape(document['info']['title'])}</h1><p>{escape(document['info']['description'])} Machine-readable:
<a href="/openapi.json">/openapi.json</a>. Send keys as <code>Authorization: Bearer &lt;key&gt;</code>;
errors are <code>application/problem+json</code>.</p>
<table><tr><th>method</th><th>path</th><th>what</th><th>parameters (* required)</th><th>body</th><th>auth</th>
<th>responses</th></tr>{''.join(rows)}</table><h2>Schemas</h2><ul>{schemas}</ul></body></html>"""
    return Response(html, mimetype="text/html")

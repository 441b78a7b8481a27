"""gunicorn settings for `screening serve` (and the Docker image).

The app and the list index are loaded once in the master (preload) and shared copy-on-write by the workers;
each worker then drops the inherited database connections and opens its own.

What gunicorn says by itself is hardened too: the access log has no query strings (they carry screened names,
references, sometimes a key), the `Server` header names no software, and its own error answers (a request line or
header too large, a malformed request) are problem+json like the app's.
"""

from __future__ import annotations

import json
from typing import Any

from screening.config import settings_from_env

_settings = settings_from_env()

bind = _settings["BIND"] or f"127.0.0.1:{_settings['PORT']}"
workers = _settings["WORKERS"]
worker_class = "gthread"
threads = _settings["THREADS"]
timeout = _settings["TIMEOUT"]
graceful_timeout = 30
keepalive = 5
preload_app = True
accesslog = "-"
errorlog = "-"
loglevel = _settings["LOG_LEVEL"].lower()
# %(U)s is the path without the query string; no %(r)s (the request line), %(q)s (the query), %(f)s (the referer, a
# URL with its query) or %(u)s (a user name from a Basic header sent by mistake).
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s" %({x-request-id}o)s'
# gunicorn's limits raised above the app's (MAX_URL_BYTES, MAX_HEADER_BYTES), so that the app answers an over-long
# request as problem+json. 8190 is the largest request line gunicorn accepts (0, unlimited, would let one request
# buffer a megabyte); a header field has no maximum, so twice the app's limit, which bounds the header buffer
# (limit_request_fields x field size) at a few megabytes.
limit_request_line = 8190
limit_request_field_size = max(16384, _settings["MAX_HEADER_BYTES"] + 4)

SERVER_NAME = "screening"  # the Server header: no software name or version to look up vulnerabilities by

_ERROR_DETAILS = {
    400: "The request is not valid HTTP.",
    403: "The request is forbidden.",
    414: "The request line is longer than the server accepts.",
    417: "The expectation cannot be met.",
    431: "The request has too many header fields or one too large.",
    500: "The server failed to answer; the error was logged.",
    501: "The transfer coding is not supported.",
}


def problem_error_answer(status_int: int, reason: str) -> bytes:
    """gunicorn's own error answer as problem+json with the app's security headers. gunicorn's message is not
    repeated: it can quote the request line, query string included."""
    from screening.errors import problem_body
    from screening.observability import SECURITY_HEADERS

    body = json.dumps(problem_body(status_int, reason, _ERROR_DETAILS.get(status_int, reason))).encode()
    head = [f"HTTP/1.1 {status_int} {reason}", "Connection: close", "Content-Type: application/problem+json",
            f"Content-Length: {len(body)}", *(f"{name}: {value}" for name, value in SECURITY_HEADERS.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def _write_problem(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    from gunicorn import util

    util.write_nonblock(sock, problem_error_answer(status_int, reason))


def on_starting(server):  # type: ignore[no-untyped-def]
    """In the master, before any worker is forked (the workers inherit both changes). gunicorn has no setting for
    either: its Server header is the module constant gunicorn.http.wsgi.SERVER, and its error answers are written by
    gunicorn.util.write_error (called from Worker.handle_error) as HTML."""
    import gunicorn
    import gunicorn.http.wsgi
    from gunicorn import util

    gunicorn.SERVER = gunicorn.http.wsgi.SERVER = SERVER_NAME
    gunicorn.SERVER_SOFTWARE = gunicorn.http.wsgi.SERVER_SOFTWARE = SERVER_NAME
    util.write_error = _write_problem


def when_ready(server):  # type: ignore[no-untyped-def]
    from screening.liststate import get_state
    from screening.wsgi import app

    try:
        get_state(app).snapshot()  # build the index before forking, so workers start warm
    except Exception as exc:  # a missing schema must not stop the server from reporting itself not ready
        server.log.warning("list not loaded at start: %s", exc)
    from screening.db import dispose

    dispose(app)


def post_fork(server, worker):  # type: ignore[no-untyped-def]
    from screening.jobs import start_runner
    from screening.wsgi import app

    for key in ("db_engine", "db_write_engine"):
        app.extensions[key].dispose(close=False)
    start_runner(app)  # each worker also runs bulk jobs, one at a time
    from screening.monitoring_runner import start_if_enabled
    from screening.notifications import start_worker

    start_if_enabled(app)  # and notices list changes, re-screening the monitored subjects
    start_worker(app)  # and delivers webhooks (when SCREENING_WEBHOOK_URL is set)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

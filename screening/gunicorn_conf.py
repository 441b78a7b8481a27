"""gunicorn settings for `screening serve` (and the Docker image).

The app and the list index are loaded once in the master (preload) and shared copy-on-write by the workers;
each worker then drops the inherited database connections and opens its own.
"""

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


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

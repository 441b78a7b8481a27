"""What the HTTP benchmarks share: a fresh database (SQLite, or a throwaway PostgreSQL cluster) and gunicorn."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def database(postgres: bool) -> Iterator[str]:
    """The URL of an empty database, removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        if not postgres:
            yield f"sqlite:///{tmp}/bench.db"
            return
        from tests.pgcluster import start_cluster

        cluster = start_cluster()
        if cluster is None:
            raise SystemExit("PostgreSQL server binaries not found")
        try:
            yield cluster.url(cluster.create_database())
        finally:
            cluster.stop()


@contextmanager
def gunicorn(url: str, workers: int = 2, ready_within: float = 600,
             env: dict[str, str] | None = None) -> Iterator[tuple[int, float]]:
    """`screening serve` on a free port; yields the port and how long it took to be ready (list loaded). The index
    cache is off unless `env` sets SCREENING_INDEX_CACHE_DIR, so the time to ready includes building the index."""
    port = free_port()
    log = tempfile.NamedTemporaryFile("w+", suffix=".log")
    env = {**os.environ, "SCREENING_DATABASE_URL": url, "SCREENING_WORKERS": str(workers),
           "SCREENING_LOG_LEVEL": "WARNING", "SCREENING_INDEX_CACHE_DIR": "off", **(env or {})}
    server = subprocess.Popen([sys.executable, "-m", "screening.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=log)
    started = time.monotonic()
    try:
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() - started > ready_within or server.poll() is not None:
                log.seek(0)
                raise SystemExit(log.read()[-5000:])
            time.sleep(0.5)
        yield port, time.monotonic() - started
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        log.close()

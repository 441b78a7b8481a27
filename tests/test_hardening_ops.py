"""Faults, logs and headers: an unreachable database is 503 with Retry-After; /readyz tells no driver error; a deleted
SQLite file is noticed; logs hold no query strings or bound parameters; every answer carries the security headers;
private files; /metrics and /docs behind a key when configured; over-long requests are problem+json.

(gunicorn itself, the Server header, its access log and a chunked body: tests/test_workers.py.)"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from screening import create_app, store
from screening.config import settings_from_env
from screening.db import default_sqlite_url, dispose, write_sessions
from screening.listfile import load_list_file
from tests.conftest import _key, make_app
from tests.pgcluster import Cluster, start_cluster
from tests.test_api import assert_problem

SECURITY = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}


class Collected(logging.Handler):
    """Every log record as the service writes it (observability.configure_logging): JSON with the extra fields and
    the traceback."""

    def __init__(self) -> None:
        from pythonjsonlogger.json import JsonFormatter

        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def logs() -> Iterator[Collected]:
    """Attached after create_app (which replaces the root logger's handlers): create the app first."""
    handler = Collected()
    yield handler
    logging.getLogger().removeHandler(handler)


def listen(handler: Collected) -> None:
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def loaded(url: str, **config: object) -> Flask:
    app = make_app(url, **config)
    with app.extensions["db_sessionmaker"]() as session:
        store.publish_document(session, load_list_file(), actor="tests", action="load-list")
        session.commit()
    return app


def assert_unavailable(response: Any) -> dict[str, Any]:
    body = assert_problem(response, 503)
    assert response.headers.get("Retry-After", "").isdigit(), dict(response.headers)
    return body


def assert_no_internals(response: Any, *secrets: str) -> None:
    """No driver name, socket path or process id in an answer anyone may read."""
    raw = response.get_data(as_text=True)
    for word in ("psycopg", "sqlite3", "OperationalError", ".s.PGSQL", "socket", "Traceback", str(os.getpid()),
                 *secrets):
        assert word not in raw, f"{word!r} in {raw}"


# 1. The database cannot be reached: 503 problem+json with Retry-After, in one handler.

@pytest.fixture
def pg_nowhere(tmp_path: Path) -> Iterator[tuple[Flask, str]]:
    """An app whose PostgreSQL socket directory has no server in it (and a key that looks valid)."""
    app = create_app({"DATABASE_URL": f"postgresql+psycopg://postgres@/screening?host={tmp_path}",
                      "LIST_POLL_SECONDS": 0.0, "TESTING": True})
    yield app, str(tmp_path)
    dispose(app)


def test_postgresql_unreachable_is_503_with_retry_after(pg_nowhere: tuple[Flask, str]) -> None:
    app, socket_dir = pg_nowhere
    client = app.test_client()
    key = {"Authorization": "Bearer scr_0123456789ab_" + "x" * 43}
    for response in (client.get("/v1/screen?name=Gao+Yan", headers=key),
                     client.post("/v1/screen", json={"name": "Gao Yan"}, headers=key),
                     client.get("/v1/entries/gao-yan", headers=key),
                     client.delete("/v1/entries/gao-yan", headers=key)):
        body = assert_unavailable(response)
        assert body["type"].endswith("/database-unavailable"), body
        assert_no_internals(response, socket_dir)


def test_sqlite_unreachable_is_503(tmp_path: Path) -> None:
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'no-such-folder' / 'screening.db'}", "TESTING": True})
    response = app.test_client().get("/v1/screen?name=x", headers={"Authorization": "Bearer scr_abc_def"})
    assert_unavailable(response)
    assert_no_internals(response, str(tmp_path))
    dispose(app)


def _pg_ctl(cluster: Cluster, *args: str) -> None:
    subprocess.run(cluster._cmd([str(cluster.bindir / "pg_ctl"), "-D", str(cluster.datadir), *args]),
                   check=True, capture_output=True, timeout=90)


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    """A cluster of this test's own, stopped and started again: the suite's shared cluster is left alone."""
    cluster = start_cluster()
    if cluster is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("PostgreSQL server binaries not found; under CI=true this is a failure")
        pytest.skip("PostgreSQL not available on this machine")
    yield cluster
    cluster.stop()


def test_postgresql_stopping_while_serving_is_503_until_it_is_back(own_cluster: Cluster) -> None:
    app = loaded(own_cluster.url(own_cluster.create_database()))
    client = app.test_client()
    key = {"Authorization": f"Bearer {_key(app, 'screener', 'analyst')}"}
    assert client.get("/v1/screen?name=Gao+Yan", headers=key).status_code == 200  # pooled connections exist now

    # Fast, not immediate: the throwaway cluster runs with synchronous_commit=off, and a crash could lose the key.
    _pg_ctl(own_cluster, "-m", "fast", "-w", "stop")
    for response in (client.get("/v1/screen?name=Gao+Yan", headers=key),
                     client.post("/v1/screen", json={"name": "Gao Yan"}, headers=key),
                     client.get("/v1/entries/gao-yan", headers=key)):
        assert_unavailable(response)
        assert_no_internals(response, str(own_cluster.socketdir))
    ready = client.get("/readyz")
    assert assert_problem(ready, 503)["checks"]["database"] == "failed", ready.text
    assert_no_internals(ready, str(own_cluster.socketdir))

    options = (f"-k {own_cluster.socketdir} -c listen_addresses='' -c fsync=off -c max_connections=50")
    _pg_ctl(own_cluster, "-l", str(own_cluster.root / "server.log"), "-o", options, "-w", "-t", "60", "start")
    # The pool drops its dead connections (pre-ping) and serves again without a restart.
    assert client.get("/v1/entries/gao-yan", headers=key).status_code == 200
    assert client.get("/readyz").status_code == 200
    dispose(app)


# 2. /readyz: which check failed, never why.

def test_readyz_tells_status_and_checks_only(app: Flask, client: FlaskClient, screener: dict[str, str]) -> None:
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ready" and set(ready["checks"].values()) == {"ok"}, ready
    assert set(ready) == {"status", "checks", "list_version"}, ready  # no process id, no counts for anyone
    detailed = client.get("/readyz", headers=screener).get_json()
    assert detailed["worker_pid"] == os.getpid() and detailed["entries"] > 0, detailed
    assert set(client.get("/readyz", headers={"Authorization": "Bearer scr_x_y"}).get_json()) == set(ready)


def test_readyz_with_the_database_down_names_no_driver_error(pg_nowhere: tuple[Flask, str],
                                                             logs: Collected) -> None:
    app, socket_dir = pg_nowhere
    listen(logs)
    response = app.test_client().get("/readyz")
    body = assert_problem(response, 503)
    assert body["checks"] == {"database": "failed", "list": "failed"}, body
    assert response.headers.get("Retry-After"), dict(response.headers)
    assert_no_internals(response, socket_dir)
    assert socket_dir in logs.text, "the reason goes to the log"


# 3. A SQLite file deleted or replaced while serving.

@pytest.fixture
def sqlite_app(sqlite_url: str) -> Iterator[Flask]:
    app = loaded(sqlite_url)
    yield app
    dispose(app)


def test_deleted_sqlite_file_is_not_ready_and_refuses_writes(sqlite_app: Flask, tmp_path: Path) -> None:
    client = sqlite_app.test_client()
    screener = {"Authorization": f"Bearer {_key(sqlite_app, 'screener', 'analyst')}"}
    admin = {"Authorization": f"Bearer {_key(sqlite_app, 'admin', 'ops')}"}
    assert client.post("/v1/screen", json={"name": "Gao Yan"}, headers=screener).status_code == 200
    assert client.get("/readyz").status_code == 200
    database = tmp_path / "test.db"
    database.unlink()  # the open connections keep using the unlinked file

    body = assert_problem(client.get("/readyz"), 503)
    assert body["checks"]["database_file"] == "failed", body
    assert_unavailable(client.post("/v1/screen", json={"name": "Gao Yan"}, headers=screener))
    assert_unavailable(client.delete("/v1/entries/gao-yan", headers=admin))
    # Below the API too: a write through the write engine fails instead of landing in the deleted file.
    with pytest.raises(sa_exc.OperationalError, match="deleted"):
        with write_sessions(sqlite_app)() as session:
            session.execute(text("DELETE FROM api_keys"))
            session.commit()
    assert not database.exists(), "no new empty database was created in its place"


def test_replaced_sqlite_file_is_not_ready(sqlite_app: Flask, tmp_path: Path) -> None:
    client = sqlite_app.test_client()
    assert client.get("/readyz").status_code == 200
    database = tmp_path / "test.db"
    shutil.copy(database, tmp_path / "copy.db")
    os.replace(tmp_path / "copy.db", database)  # same content, another file: open connections still use the old
    body = assert_problem(client.get("/readyz"), 503)
    assert body["checks"]["database_file"] == "failed", body


# 4. Logs: no query strings, no bound parameters.

def test_access_log_format_has_no_query_string() -> None:
    from screening import gunicorn_conf

    fmt = gunicorn_conf.access_log_format
    assert "%(U)s" in fmt, fmt
    for atom in ("%(r)s", "%(q)s", "%(f)s", "%(u)s"):  # request line, query, referer (a URL), Basic user name
        assert atom not in fmt, f"{atom} in {fmt}"


def test_request_log_has_no_query_string(client: FlaskClient, screener: dict[str, str], logs: Collected) -> None:
    listen(logs)
    response = client.get("/v1/screen?name=Zoryanov+Secretname&reference=ref-4711-secret", headers=screener)
    assert response.status_code == 200, response.text
    assert_problem(client.get("/v1/screen?name=x&api_key=scr_leaked_key", headers=screener), 400)
    assert "/v1/screen" in logs.text, logs.text
    for secret in ("Secretname", "ref-4711-secret", "scr_leaked_key"):
        assert secret not in logs.text, f"{secret} logged: {logs.text}"


def test_database_error_log_holds_no_bound_parameters(db_url: str, logs: Collected) -> None:
    app = create_app({"DATABASE_URL": db_url, "TESTING": True})  # no schema: the key lookup statement fails
    listen(logs)
    response = app.test_client().get("/v1/screen?name=x", headers={"Authorization": "Bearer scr_secretkeyid42_x"})
    assert response.status_code in (500, 503), response.text
    assert "api_keys" in logs.text, f"the failing statement should be logged: {logs.text}"
    assert "secretkeyid42" not in logs.text, logs.text
    assert "secretkeyid42" not in response.get_data(as_text=True)
    dispose(app)


# 5. Headers on every answer; private files.

def test_security_headers_on_every_answer(client: FlaskClient, screener: dict[str, str]) -> None:
    answers = {"/v1/screen?name=Gao+Yan": client.get("/v1/screen?name=Gao+Yan", headers=screener),
               "/v1/screen (401)": client.get("/v1/screen?name=Gao+Yan"),
               "/v1/nothing (404)": client.get("/v1/nothing", headers=screener),
               "/healthz": client.get("/healthz"), "/readyz": client.get("/readyz"),
               "/metrics": client.get("/metrics"), "/openapi.json": client.get("/openapi.json"),
               "/docs": client.get("/docs")}
    for path, response in answers.items():
        for name, value in SECURITY.items():
            assert response.headers.get(name) == value, (path, name, dict(response.headers))
        csp = response.headers.get("Content-Security-Policy", "")
        assert csp.startswith("default-src 'none'") and "frame-ancestors 'none'" in csp, (path, csp)
        if path.startswith("/v1/"):
            assert response.headers.get("Cache-Control") == "no-store", (path, dict(response.headers))
        if path != "/docs":
            assert "style-src" not in csp and "script-src" not in csp, (path, csp)


def test_docs_page_policy_allows_its_own_style_only(client: FlaskClient) -> None:
    page = client.get("/docs")
    html = page.get_data(as_text=True)
    styles = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    assert len(styles) == 1, styles
    digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
    policy = dict(part.strip().split(" ", 1) for part in page.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'" and policy["style-src"] == f"'sha256-{digest}'", policy
    # Nothing else for the policy to allow: no scripts, stylesheets, images or frames, from anywhere.
    assert not re.search(r"<(script|link|img|iframe|object)\b|\bsrc=|style=", html), html[:500]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_files_are_private(tmp_path: Path) -> None:
    migrated = tmp_path / "migrated.db"  # created by the migrations (screening init-db)
    app = loaded(f"sqlite:///{migrated}")
    assert app.test_client().get("/readyz").status_code == 200
    for path in (migrated, Path(f"{migrated}-wal"), Path(f"{migrated}-shm")):
        assert mode(path) == 0o600, f"{path} is {oct(mode(path))}"
    dispose(app)
    served = tmp_path / "served.db"  # created by the app's first connection
    app = create_app({"DATABASE_URL": f"sqlite:///{served}", "TESTING": True})
    app.test_client().get("/readyz")
    assert mode(served) == 0o600, oct(mode(served))
    dispose(app)
    instance = tmp_path / "instance"  # the default database's folder, which also holds job files and the index cache
    default_sqlite_url(str(instance))
    assert mode(instance) == 0o700, oct(mode(instance))


def test_index_cache_is_private(tmp_path: Path) -> None:
    from screening.matching import Matcher
    from screening.snapshotcache import load_or_build

    directory = tmp_path / "index-cache"
    load_or_build("0" * 64, lambda: ({}, {}, Matcher([])), directory)
    assert mode(directory) == 0o700, oct(mode(directory))
    files = list(directory.iterdir())
    assert files and all(mode(f) == 0o600 for f in files), [(f.name, oct(mode(f))) for f in files]


# 6. /metrics, /docs and /openapi.json: public by default, behind a key when configured.

def test_public_pages_settings_default_to_public() -> None:
    settings = settings_from_env({})
    assert settings["PUBLIC_METRICS"] is True and settings["PUBLIC_DOCS"] is True, settings
    settings = settings_from_env({"SCREENING_PUBLIC_METRICS": "false", "SCREENING_PUBLIC_DOCS": "0"})
    assert settings["PUBLIC_METRICS"] is False and settings["PUBLIC_DOCS"] is False, settings


@pytest.mark.parametrize("public", [True, False])
def test_metrics_and_docs_need_a_key_unless_public(sqlite_url: str, public: bool) -> None:
    app = loaded(sqlite_url, PUBLIC_METRICS=public, PUBLIC_DOCS=public)
    client = app.test_client()
    screener = {"Authorization": f"Bearer {_key(app, 'screener', 'analyst')}"}
    for path in ("/metrics", "/docs", "/openapi.json"):
        anonymous = client.get(path)
        if public:
            assert anonymous.status_code == 200, (path, anonymous.text)
        else:
            assert_problem(anonymous, 401)
            assert_problem(client.get(path, headers={"Authorization": "Bearer scr_abc_def"}), 401)
        assert client.get(path, headers=screener).status_code == 200, path
    for path in ("/healthz", "/readyz"):  # never behind a key
        assert client.get(path).status_code == 200, path
    dispose(app)


def test_only_one_public_page_setting_at_a_time(sqlite_url: str) -> None:
    app = loaded(sqlite_url, PUBLIC_METRICS=False)
    client = app.test_client()
    assert_problem(client.get("/metrics"), 401)
    assert client.get("/docs").status_code == 200 and client.get("/openapi.json").status_code == 200
    dispose(app)


# 7. Over-long requests: problem+json from the app (gunicorn's own limits: tests/test_workers.py).

def test_over_long_url_is_414_problem(client: FlaskClient, screener: dict[str, str]) -> None:
    response = client.get("/v1/screen?name=" + "a" * 8100, headers=screener)
    body = assert_problem(response, 414)
    assert "a" * 50 not in body["detail"], body
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert client.get("/v1/screen?name=" + "a" * 400, headers=screener).status_code == 200


def test_over_long_header_is_431_problem(client: FlaskClient, screener: dict[str, str]) -> None:
    assert_problem(client.get("/healthz", headers={"X-Filler": "a" * 9000}), 431)
    assert client.get("/healthz", headers={"X-Filler": "a" * 8000}).status_code == 200


def test_request_limits_are_settings(sqlite_url: str) -> None:
    app = loaded(sqlite_url, MAX_URL_BYTES=100, MAX_HEADER_BYTES=200)
    client = app.test_client()
    assert_problem(client.get("/healthz?" + "a" * 100), 414)
    assert_problem(client.get("/healthz", headers={"X-Filler": "a" * 200}), 431)
    assert client.get("/healthz?" + "a" * 50, headers={"X-Filler": "a" * 150}).status_code == 200
    dispose(app)


@pytest.mark.parametrize("extra, status", [(0, 200), (1, 413), (5 * 1024 * 1024, 413)])
def test_streamed_body_over_the_limit_is_413_problem(sqlite_url: str, extra: int, status: int) -> None:
    """A body without Content-Length, from a server that ends the stream itself (gunicorn, chunked): Werkzeug alone
    reads such a body up to MAX_CONTENT_LENGTH and stops, so a valid JSON object followed by padding was screened."""
    import io

    app = loaded(sqlite_url, MAX_BODY_BYTES=1024 * 1024)
    key = {"Authorization": f"Bearer {_key(app, 'screener', 'analyst')}"}
    document = b'{"name": "Gao Yan"}'
    body = document + b" " * (1024 * 1024 - len(document) + extra)
    response = app.test_client().post("/v1/screen", input_stream=io.BytesIO(body), content_type="application/json",
                                      headers={**key, "Transfer-Encoding": "chunked"},
                                      environ_overrides={"wsgi.input_terminated": True})
    if status == 413:
        assert_problem(response, 413)
    else:
        assert response.status_code == 200, response.text
    dispose(app)

"""gunicorn with two workers: a list change is served by every worker within a few seconds."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from screening import create_app, gunicorn_conf, store
from screening.auth import create_key
from screening.db import dispose, upgrade
from screening.listfile import load_list_file

POLL_SECONDS = 2.0  # the default LIST_POLL_SECONDS
PROMISE_SECONDS = 5.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, key: str | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture
def served(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    upgrade(db_url)
    app = create_app({"DATABASE_URL": db_url})
    sessions = app.extensions["db_sessionmaker"]
    with sessions() as session:
        store.publish_document(session, load_list_file(), actor="tests")
        key = create_key(session, role="screener", label="w")
        admin_key = create_key(session, role="admin", label="ops")
        session.commit()
    port = _free_port()
    env = {**os.environ, "SCREENING_DATABASE_URL": db_url, "SCREENING_WORKERS": "2",
           "SCREENING_LIST_POLL_SECONDS": str(POLL_SECONDS)}
    log = open(tmp_path / "gunicorn.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "screening.cli", "serve", "--port", str(port)],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _get(f"{base}/readyz")[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail((tmp_path / "gunicorn.log").read_text())
    yield base, key, admin_key
    process.terminate()
    # A worker still booting when the TERM comes misses it (it holds the master's handlers until its own are set) and
    # is killed by the master after graceful_timeout: so the master may take that long, and a little more, to exit.
    process.wait(timeout=gunicorn_conf.graceful_timeout + 15)
    log.close()
    dispose(app)


def test_every_worker_serves_a_list_change(served) -> None:  # type: ignore[no-untyped-def]
    base, key, admin_key = served
    pids: set[int] = set()
    for _ in range(400):
        pids.add(_get(f"{base}/readyz", key)[1]["worker_pid"])  # a process id is shown to key holders only
        if len(pids) >= 2:
            break
    assert len(pids) == 2, f"only saw workers {pids}"

    # The change goes through the admin API of one worker; the other must pick it up on its own.
    document = {"sources": [{"id": "test-source", "title": "Test", "publisher": "Tests", "kind": "official"}],
                "entries": [{"id": "test-new-designee", "type": "person", "status": "designated",
                             "names": [{"name": "ZORYANOV, Ilyas", "kind": "primary"}],
                             "citations": [{"source": "test-source", "quote": "ZORYANOV, Ilyas"}]}]}
    request = urllib.request.Request(f"{base}/v1/lists/import?format=native&mode=merge",
                                     data=json.dumps(document).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {admin_key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        result = json.loads(response.read())
    assert result["created"] is True, result
    changed_at = time.monotonic()

    behind = set(pids)
    while behind and time.monotonic() - changed_at < PROMISE_SECONDS + 5:
        status, body = _get(f"{base}/readyz", key)
        if body.get("list_version") == result["list_version"]:
            behind.discard(body["worker_pid"])
    elapsed = time.monotonic() - changed_at
    assert not behind, f"workers {behind} still on the old version after {elapsed:.1f}s"
    # Every request now screens against the new version.
    for _ in range(10):
        status, body = _get(f"{base}/v1/screen?name=Ilyas+Zoryanov", key)
        assert status == 200 and body["list_version"] == result["list_version"], body
        assert body["matches"][0]["entry_id"] == "test-new-designee", body

    # Metrics are added up across both workers (prometheus multiprocess mode).
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        text = response.read().decode()
    screened = sum(float(line.split()[-1]) for line in text.splitlines()
                   if line.startswith('screening_screenings_total{via="api"}'))
    assert screened >= 10, text[:2000]
    assert f"screening_list_version {float(result['list_version'])}" in text, text[:2000]


def test_a_job_reports_progress_and_finishes_under_gunicorn(served) -> None:  # type: ignore[no-untyped-def]
    from bench.bulk_file import rows as customer_rows
    from tests.test_bulk import _csv

    base, key, _ = served
    body = _csv([["customer_id", "name", "type", "country"]] + customer_rows(20_000, seed=3)).encode()
    request = urllib.request.Request(f"{base}/v1/jobs?type_column=type", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "text/csv"})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 202
        job = json.loads(response.read())
    seen = set()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = _get(base + job["status_url"], key)[1]
        seen.add((status["status"], status["rows_done"]))
        if status["status"] in ("done", "failed"):
            break
        time.sleep(0.2)
    assert status["status"] == "done", status
    assert any(state == "running" and 0 < done < 20_000 for state, done in seen), seen  # progress while it ran
    with urllib.request.urlopen(urllib.request.Request(base + status["result_url"],
                                                       headers={"Authorization": f"Bearer {key}"})) as response:
        lines = response.read().decode().count("\r\n")
    assert lines >= 20_001


SECURITY = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store"}


def _raw(base: str, method: str, target: str, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request on its own connection, with no client-side checks of the target's length."""
    conn = http.client.HTTPConnection(base.removeprefix("http://"), timeout=60)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def _assert_problem(status: int, headers: http.client.HTTPMessage, body: bytes, expected: int) -> dict:  # type: ignore[type-arg]
    assert status == expected, (status, body[:500])
    assert headers.get_content_type() == "application/problem+json", (headers.get_content_type(), body[:500])
    problem = json.loads(body)
    assert problem["status"] == expected and {"type", "title", "detail"} <= set(problem), problem
    for name, value in SECURITY.items():
        assert headers.get(name) == value, (name, dict(headers))
    assert headers.get("Content-Security-Policy", "").startswith("default-src 'none'"), dict(headers)
    return problem


def _chunked(base: str, target: str, headers: dict[str, str], size: int) -> tuple[int, http.client.HTTPMessage, bytes]:
    """A body of `size` bytes sent chunked (no Content-Length), a JSON object then spaces."""
    conn = http.client.HTTPConnection(base.removeprefix("http://"), timeout=60)
    document = b'{"name": "Gao Yan"}'
    chunk = b" " * 65536
    try:
        conn.putrequest("POST", target)
        for name, value in {**headers, "Content-Type": "application/json", "Transfer-Encoding": "chunked"}.items():
            conn.putheader(name, value)
        conn.endheaders()
        try:
            conn.send(b"%x\r\n%s\r\n" % (len(document), document))
            left = size - len(document)
            while left > 0:
                piece = chunk[:left]
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
                left -= len(piece)
            conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered before reading it all: the answer is still there to read
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def test_gunicorn_answers_are_hardened(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, key, _ = served
    auth = {"Authorization": f"Bearer {key}"}

    # No software banner; the security headers on an ordinary answer.
    status, headers, body = _raw(base, "GET", "/v1/screen?name=Gao+Yan&reference=ref-4711-secret", auth)
    assert status == 200, body[:500]
    assert "gunicorn" not in (headers.get("Server") or "").lower(), dict(headers)
    for name, value in SECURITY.items():
        assert headers.get(name) == value, (name, dict(headers))
    status, headers, _ = _raw(base, "GET", "/readyz")
    assert status == 200 and "gunicorn" not in (headers.get("Server") or "").lower(), dict(headers)

    # Over-long request lines and header fields are problem+json, whether the app (its limits) or gunicorn (its
    # hard maximum, past the app's) refuses them.
    app_414 = _assert_problem(*_raw(base, "GET", "/v1/screen?name=" + "a" * 8100, auth), 414)
    gunicorn_414 = _assert_problem(*_raw(base, "GET", "/v1/screen?name=" + "a" * 9000, auth), 414)
    assert "a" * 20 not in json.dumps([app_414, gunicorn_414]), "the target is not echoed"
    _assert_problem(*_raw(base, "GET", "/healthz", {"X-Filler": "a" * 10000}), 431)
    _assert_problem(*_raw(base, "GET", "/healthz", {"X-Filler": "a" * 20000}), 431)
    _assert_problem(*_raw(base, "GET", "/healthz", {f"X-Filler-{i}": "a" for i in range(150)}), 431)

    # A chunked body over MAX_BODY_BYTES (10 MiB) is refused, not cut at the limit and screened; one under it is read.
    assert _chunked(base, "/v1/screen", auth, 64 * 1024)[0] == 200
    _assert_problem(*_chunked(base, "/v1/screen", auth, 10 * 1024 * 1024 + 1024), 413)

    # gunicorn's access log has the path, never the query string (the name, the reference, a key sent there).
    _raw(base, "GET", "/v1/screen?name=Zoryanov+Secretname&api_key=scr_leaked_key",
         {**auth, "X-Request-ID": "last-of-hardening"})
    log = tmp_path / "gunicorn.log"
    deadline = time.monotonic() + 10
    while "last-of-hardening" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)  # gunicorn writes the access line after the answer
    text = log.read_text()
    assert '"GET /v1/screen HTTP/1.1" 200' in text and "last-of-hardening" in text, text[-3000:]
    for secret in ("Secretname", "ref-4711-secret", "scr_leaked_key", "aaaaaaaaaa"):
        assert secret not in text, f"{secret} in the server log: {text[-3000:]}"


def _call(method: str, url: str, key: str, body: object = None,
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], dict]:  # type: ignore[type-arg]
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"{}")


def test_every_worker_hands_out_the_new_etag_right_after_a_put(served) -> None:  # type: ignore[no-untyped-def]
    """The ETag of GET /v1/entries/{id} is what a PUT sends back as If-Match: right after a change on one worker,
    every worker answers the new version (not its snapshot of up to LIST_POLL_SECONDS ago), with the entry as of it."""
    base, _, admin_key = served
    url = f"{base}/v1/entries/gao-yan"
    status, _, entry = _call("GET", url, admin_key)
    assert status == 200, entry
    assert _call("PUT", url, admin_key, entry)[0] == 428  # without If-Match
    pids = set()
    for change in range(6):
        status, headers, entry = _call("GET", url, admin_key)
        entry["names"].append({"name": f"GAO, Etag {change}", "kind": "weak"})
        status, headers, written = _call("PUT", url, admin_key, entry, {"If-Match": headers["ETag"]})
        assert status == 200, written
        etag = headers["ETag"]
        for _ in range(8):  # both workers, at once: well inside the poll interval
            status, headers, read = _call("GET", url, admin_key)
            assert (status, headers["ETag"]) == (200, etag), (change, headers, read.get("list_version"))
            assert read["list_version"] == written["list_version"] and read["names"] == written["names"], change
            pids.add(_get(f"{base}/readyz", admin_key)[1]["worker_pid"])  # shown to key holders only
    assert len(pids) == 2, f"only saw workers {pids}"


def test_behind_a_tls_proxy_the_interface_cookie_is_secure(served) -> None:  # type: ignore[no-untyped-def]
    """gunicorn takes X-Forwarded-Proto: https from a proxy at an address it trusts (FORWARDED_ALLOW_IPS, 127.0.0.1 by
    default) as the request's scheme, so the interface's cookies are Secure behind a TLS-terminating proxy on the
    same host, and not on plain http (a local trial)."""
    base, _, _ = served
    status, headers, _ = _raw(base, "GET", "/ui/sign-in", {"X-Forwarded-Proto": "https"})
    assert status == 200 and "Secure" in headers["Set-Cookie"], headers
    status, headers, _ = _raw(base, "GET", "/ui/sign-in")
    assert status == 200 and "Secure" not in headers["Set-Cookie"], headers

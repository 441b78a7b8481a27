"""The analyst interface (/ui) through Flask's test client, on SQLite and PostgreSQL: sessions in the database,
cookies, CSRF, roles, a revoked key, expiry, and each page's work (screening, bulk jobs, decisions, edits with a
stale ETag, imports, audit). The browser tests (test_ui_browser.py) drive the same pages in chromium."""

from __future__ import annotations

import html as html_module
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from screening import jobs
from screening.auth import revoke_key
from screening.models import ApiKey, AuditEvent, utcnow
from screening.monitoring_models import Alert
from screening.ui import sessions
from screening.ui_models import UiSession
from tests.conftest import _key
from tests.test_decisions import _open_alert

DATA = Path(__file__).parent / "data"


def sign_in(client: FlaskClient, key: str) -> str:
    """Sign in through the form; the session's CSRF token (from the page it lands on)."""
    page = client.get("/ui/sign-in")
    token = re.search(r'name="signin_token" value="([^"]+)"', page.text)
    assert page.status_code == 200 and token, page.text
    r = client.post("/ui/sign-in", data={"api_key": key, "signin_token": token.group(1)})
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/ui/screen").text)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


@pytest.fixture
def ui(app: Flask) -> FlaskClient:
    return app.test_client()


def _signed_in(app: Flask, role: str, label: str) -> tuple[FlaskClient, str]:
    client = app.test_client()
    return client, sign_in(client, _key(app, role, label))


def test_pages_need_a_session_and_sign_in_sets_a_strict_cookie(app: Flask, ui: FlaskClient) -> None:
    r = ui.get("/ui/entries?q=chen")
    assert r.status_code == 302 and r.headers["Location"].startswith("/ui/sign-in?next=/ui/entries"), r.headers
    key = _key(app, "screener", "desk 1")
    page = ui.get("/ui/sign-in")
    token = re.search(r'name="signin_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = ui.post("/ui/sign-in", data={"api_key": key, "signin_token": token, "next": "/ui/entries?q=chen"})
    assert r.status_code == 303 and r.headers["Location"] == "/ui/entries?q=chen", r.text
    cookie = r.headers["Set-Cookie"]
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/ui"):
        assert attribute in cookie, cookie
    assert "Secure" not in cookie, cookie  # plain http (a local trial) must still sign in
    raw = re.search(r"screening_ui=([^;]+)", cookie).group(1)  # type: ignore[union-attr]
    assert key not in cookie
    with app.extensions["db_sessionmaker"]() as db:
        rows = list(db.scalars(select(UiSession)))
    assert len(rows) == 1 and rows[0].id_hash != raw and len(rows[0].id_hash) == 64, rows  # only its hash is kept
    r = ui.get("/ui/entries?q=chen")
    assert r.status_code == 200 and "CHEN, Quanguo" in r.text, r.text
    assert "desk 1" in r.text and "screener" in r.text


def test_cookie_is_secure_over_https(app: Flask) -> None:
    client = app.test_client()
    key = _key(app, "screener", "tls")
    page = client.get("/ui/sign-in", base_url="https://localhost")
    token = re.search(r'name="signin_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = client.post("/ui/sign-in", data={"api_key": key, "signin_token": token}, base_url="https://localhost")
    assert r.status_code == 303 and "Secure" in r.headers["Set-Cookie"], r.headers


def test_a_wrong_key_or_a_forged_sign_in_is_refused(app: Flask, ui: FlaskClient) -> None:
    page = ui.get("/ui/sign-in")
    token = re.search(r'name="signin_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    for wrong in ("scr_nope_nope", "scr_\x00_x", "x" * 5000):
        token = re.search(r'name="signin_token" value="([^"]+)"', ui.get("/ui/sign-in").text).group(1)  # type: ignore[union-attr]
        r = ui.post("/ui/sign-in", data={"api_key": wrong, "signin_token": token})
        assert r.status_code == 401 and "not valid or was revoked" in r.text, (wrong[:20], r.text)
    other = app.test_client()  # no sign-in cookie: a form posted from another site
    r = other.post("/ui/sign-in", data={"api_key": _key(app, "admin", "x"), "signin_token": token})
    assert r.status_code == 400 and "expired" in r.text, r.text
    assert "screening_ui=" not in r.headers.get("Set-Cookie", ""), r.headers


def test_next_never_leads_off_the_interface(app: Flask, ui: FlaskClient) -> None:
    key = _key(app, "screener", "n")
    for target in ("https://evil.example/ui/x", "//evil.example/ui/", "/v1/entries", "/ui\\evil"):
        page = ui.get("/ui/sign-in")
        token = re.search(r'name="signin_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        r = ui.post("/ui/sign-in", data={"api_key": key, "signin_token": token, "next": target})
        assert r.status_code == 303 and r.headers["Location"] == "/ui/screen", (target, r.headers["Location"])


def test_every_post_needs_the_session_csrf_token(app: Flask) -> None:
    client, token = _signed_in(app, "screener", "csrf")
    for data in ({"name": "Chen Quanguo"}, {"name": "Chen Quanguo", "csrf_token": "x" * len(token)}):
        r = client.post("/ui/screen", data=data)
        assert r.status_code == 400 and "token" in r.text, r.text
    other, other_token = _signed_in(app, "screener", "csrf 2")
    r = client.post("/ui/screen", data={"name": "Chen Quanguo", "csrf_token": other_token})
    assert r.status_code == 400, "another session's token must not do"
    r = client.post("/ui/sign-out", data={})
    assert r.status_code == 400, "sign-out is a POST with the token too"
    r = client.post("/ui/screen", data={"name": "Chen Quanguo", "csrf_token": token})
    assert r.status_code == 200, r.text


def test_sign_out_deletes_the_session(app: Flask) -> None:
    client, token = _signed_in(app, "screener", "out")
    cookie = client.get_cookie(sessions.COOKIE, path="/ui")
    assert cookie is not None
    r = client.post("/ui/sign-out", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["Location"].startswith("/ui/sign-in"), r.text
    with app.extensions["db_sessionmaker"]() as db:
        assert db.scalar(select(func.count()).select_from(UiSession)) == 0
    client.set_cookie(sessions.COOKIE, cookie.value, path="/ui")  # the old cookie, replayed
    assert client.get("/ui/screen").status_code == 302


def test_a_revoked_key_ends_its_sessions(app: Flask) -> None:
    client, _ = _signed_in(app, "analyst", "to revoke")
    assert client.get("/ui/alerts").status_code == 200
    with app.extensions["db_sessionmaker"]() as db:
        key_id = db.scalar(select(ApiKey.key_id).where(ApiKey.label == "to revoke"))
        assert key_id is not None and revoke_key(db, key_id)
        db.commit()
    r = client.get("/ui/alerts")
    assert r.status_code == 302 and "/ui/sign-in" in r.headers["Location"], r.headers
    with app.extensions["db_sessionmaker"]() as db:
        assert db.scalar(select(func.count()).select_from(UiSession)) == 0


def test_idle_and_old_sessions_expire(app: Flask) -> None:
    client, _ = _signed_in(app, "screener", "idle")
    idle = app.config["UI_SESSION_IDLE_MINUTES"]
    with app.extensions["db_sessionmaker"]() as db:
        db.execute(update(UiSession).values(last_seen_at=utcnow() - timedelta(minutes=idle + 1)))
        db.commit()
    assert client.get("/ui/screen").status_code == 302
    client, _ = _signed_in(app, "screener", "old")
    with app.extensions["db_sessionmaker"]() as db:
        db.execute(update(UiSession).values(created_at=utcnow() - timedelta(hours=app.config["UI_SESSION_MAX_HOURS"],
                                                                            minutes=1)))
        db.commit()
    assert client.get("/ui/screen").status_code == 302


@pytest.mark.parametrize("role, allowed, refused", [
    ("screener", ["/ui/screen", "/ui/bulk", "/ui/entries", "/ui/entries/chen-quanguo", "/ui/versions"],
     ["/ui/alerts", "/ui/audit", "/ui/import", "/ui/entries/chen-quanguo/edit"]),
    ("analyst", ["/ui/alerts", "/ui/entries"], ["/ui/audit", "/ui/import", "/ui/entries/chen-quanguo/edit"]),
    ("admin", ["/ui/alerts", "/ui/audit", "/ui/import", "/ui/entries/chen-quanguo/edit", "/ui/versions/1"], []),
])
def test_the_role_decides_what_is_shown(app: Flask, role: str, allowed: list[str], refused: list[str]) -> None:
    client, _ = _signed_in(app, role, f"{role} desk")
    for path in allowed:
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:500])
        assert r.headers["Content-Security-Policy"].startswith("default-src 'none'; script-src 'self'"), r.headers
    for path in refused:
        r = client.get(path)
        assert r.status_code == 403 and "role" in r.text, (path, r.status_code)
    nav = client.get("/ui/screen").text
    assert ('href="/ui/alerts"' in nav) == (role != "screener")
    assert ('href="/ui/audit"' in nav) == (role == "admin")
    # Who changed the list is the audit's business (the API's versions are admin-only): the timeline names the
    # actor (the list was published by "tests") to admins only.
    timeline = client.get("/ui/versions").text
    assert (" by tests" in timeline) == (role == "admin"), timeline[:2000]


def test_errors_are_pages_not_json(app: Flask) -> None:
    client, _ = _signed_in(app, "analyst", "errors")
    for path, status in (("/ui/alerts/999999", 404), ("/ui/entries/no-such", 404), ("/ui/nothing/here", 404),
                         ("/ui/alerts?status=bogus", 400), ("/ui/versions/77", 404)):
        r = client.get(path)
        assert r.status_code == status and r.mimetype == "text/html", (path, r.status_code, r.text[:300])
    r = client.get("/ui/entries?q=chen&page=2&anything=else")  # the /v1 guard's argument check is not for /ui
    assert r.status_code == 200, r.text[:300]


def test_screening_shows_explanation_and_citations_and_is_audited(app: Flask) -> None:
    client, token = _signed_in(app, "screener", "screen desk")
    r = client.post("/ui/screen", data={"csrf_token": token, "name": "Chen Quan-guo", "type": "person",
                                        "birth_date": "1955", "country": "cn", "threshold": ""})
    assert r.status_code == 200, r.text
    html = r.text
    for wanted in ("CHEN, Quanguo", "designated", "<meter", "quanguo", "exact", "birth date agrees",
                   "Most notably, the sanctions hit Chen Quanguo", 'href="/ui/entries/chen-quanguo"'):
        assert wanted in html, wanted
    with app.extensions["db_sessionmaker"]() as db:
        actors = list(db.scalars(select(AuditEvent.actor).where(AuditEvent.kind == "screening")))
    assert actors == ["screen desk"], actors
    r = client.post("/ui/screen", data={"csrf_token": token, "name": "Chen", "birth_date": "55-1"})
    assert r.status_code == 400 and "birth_date" in r.text, r.text
    r = client.get("/ui/screen?name=Hikvision&type=organization")  # a result is a link
    assert r.status_code == 200 and "Hikvision" in r.text and "restricted" in r.text, r.text


def test_bulk_upload_runs_as_a_job_of_the_key(app: Flask) -> None:
    client, token = _signed_in(app, "screener", "bulk desk")
    csv = "id,name\n1,Chen Quanguo\n2,Jane Example\n".encode()
    r = client.post("/ui/bulk", data={"csrf_token": token, "file": (io.BytesIO(csv), "names.csv"),
                                      "id_column": "id"}, content_type="multipart/form-data")
    assert r.status_code == 303, r.text
    job_page = r.headers["Location"]
    job_id = job_page.rsplit("/", 1)[1]
    assert "hx-trigger" in client.get(job_page).text  # polls while queued
    assert jobs.run_pending(app) == 1
    progress = client.get(f"/ui/jobs/{job_id}/progress").text
    assert "done" in progress and "hx-trigger" not in progress and "Download" in progress, progress
    result = client.get(f"/ui/jobs/{job_id}/result")
    assert result.status_code == 200 and result.mimetype == "text/csv", result.text
    assert "chen-quanguo" in result.text and result.text.startswith("id,name,match_count"), result.text
    assert job_id[:8] in client.get("/ui/bulk").text
    stranger, _ = _signed_in(app, "screener", "someone else")
    assert stranger.get(f"/ui/jobs/{job_id}").status_code == 404
    assert stranger.get(f"/ui/jobs/{job_id}/result").status_code == 404
    r = client.post(f"/ui/jobs/{job_id}/delete", data={"csrf_token": token})
    assert r.status_code == 303 and client.get(job_page).status_code == 404, r.text
    r = client.post("/ui/bulk", data={"csrf_token": token, "file": (io.BytesIO(b"who\nx\n"), "bad.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 400 and "name" in r.text, r.text


def test_an_alert_is_decided_from_its_page(app: Flask) -> None:
    alert_id, entry_id, name = _open_alert(app)
    screener, _ = _signed_in(app, "screener", "no alerts")
    assert screener.get(f"/ui/alerts/{alert_id}").status_code == 403
    client, token = _signed_in(app, "analyst", "alert desk")
    queue = client.get("/ui/alerts?status=open")
    assert queue.status_code == 200 and f'href="/ui/alerts/{alert_id}"' in queue.text, queue.text
    page = client.get(f"/ui/alerts/{alert_id}")
    assert page.status_code == 200 and "Subject" in page.text and "Listed entry" in page.text, page.text
    assert 'value="false_positive"' in page.text and 'value="true_match"' in page.text
    r = client.post(f"/ui/alerts/{alert_id}/decision", data={"csrf_token": token, "decision": "false_positive",
                                                            "note": "  "})
    assert r.status_code == 400 and "note" in r.text, r.text
    r = client.post(f"/ui/alerts/{alert_id}/decision", data={"csrf_token": token, "decision": "false_positive",
                                                            "note": "born 1971, not 1955"})
    assert r.status_code == 303, r.text
    page = client.get(r.headers["Location"])
    assert "born 1971, not 1955" in page.text and 'value="reverse"' in page.text, page.text
    r = client.post(f"/ui/alerts/{alert_id}/decision", data={"csrf_token": token, "decision": "true_match",
                                                            "note": "again"})
    assert r.status_code == 409 and "reverse the decision first" in r.text, r.text
    with app.extensions["db_sessionmaker"]() as db:
        alert = db.get(Alert, alert_id)
        assert alert is not None and alert.status == "false_positive", alert


def test_four_eyes_needs_another_key_in_the_interface(app: Flask) -> None:
    app.config["FOUR_EYES"] = True
    alert_id, _, _ = _open_alert(app)
    first, token = _signed_in(app, "analyst", "first")
    r = first.post(f"/ui/alerts/{alert_id}/decision", data={"csrf_token": token, "decision": "true_match",
                                                           "note": "same passport"})
    assert r.status_code == 303, r.text
    page = first.get(f"/ui/alerts/{alert_id}").text
    assert "pending confirmation" in page and "another key must confirm" in page, page
    r = first.post(f"/ui/alerts/{alert_id}/decision", data={"csrf_token": token, "decision": "confirm",
                                                           "note": "me again"})
    assert r.status_code == 409 and "different API key" in r.text, r.text
    second, token2 = _signed_in(app, "analyst", "second")
    r = second.post(f"/ui/alerts/{alert_id}/decision", data={"csrf_token": token2, "decision": "confirm",
                                                            "note": "confirmed"})
    assert r.status_code == 303, r.text
    with app.extensions["db_sessionmaker"]() as db:
        assert db.get(Alert, alert_id).status == "true_match"  # type: ignore[union-attr]


def test_an_edit_with_a_stale_etag_is_refused_and_a_fresh_one_saved(app: Flask) -> None:
    client, token = _signed_in(app, "admin", "editor")
    form = client.get("/ui/entries/chen-quanguo/edit").text
    etag = re.search(r'name="etag" value="(\d+)"', form).group(1)  # type: ignore[union-attr]
    text = re.search(r'<textarea id="entry" name="entry"[^>]*>(.*?)</textarea>', form, re.S).group(1)  # type: ignore[union-attr]
    text = html_module.unescape(text)
    assert "CHEN, Quanguo" in text
    edited = text.replace("Pingyu, Henan, China", "Pingyu County, Henan, China")
    r = client.post("/ui/entries/chen-quanguo/edit", data={"csrf_token": token, "etag": etag, "entry": edited})
    assert r.status_code == 303 and "saved=" in r.headers["Location"], r.text
    # The same form again, sent with the ETag it was opened at: the list has moved since.
    again = edited.replace("China", "PRC", 1)
    r = client.post("/ui/entries/chen-quanguo/edit", data={"csrf_token": token, "etag": etag, "entry": again})
    assert r.status_code == 409 and "the list changed since you opened this form" in r.text, r.text
    assert "PRC" in r.text  # the text typed is kept
    r = client.post("/ui/entries/chen-quanguo/edit", data={"csrf_token": token, "etag": etag, "entry": "id: [x"})
    assert r.status_code == 400 and "YAML" in r.text, r.text
    history = client.get("/ui/entries/chen-quanguo").text
    assert 'href="/ui/versions/2">Version 2</a>: changed' in history and ">Version 1</a>: added" in history, history
    versions = client.get("/ui/versions").text
    assert "Version 2" in versions and "editor" in versions, versions
    diff = client.get("/ui/versions/2").text
    assert "<del>" in diff and "<ins>" in diff and "chen-quanguo" in diff, diff


def test_import_and_audit_pages(app: Flask) -> None:
    client, token = _signed_in(app, "admin", "importer")
    ofac = (DATA / "ofac" / "sdn.csv").read_bytes()
    r = client.post("/ui/import", data={"csrf_token": token, "format": "ofac-csv", "mode": "merge",
                                        "file": (io.BytesIO(ofac), "sdn.csv")}, content_type="multipart/form-data")
    assert r.status_code == 200 and "Imported as list version 2" in r.text, r.text
    r = client.post("/ui/import", data={"csrf_token": token, "format": "native", "mode": "merge",
                                        "file": (io.BytesIO(b"entries: [1"), "bad.yaml")},
                    content_type="multipart/form-data")
    assert r.status_code in (400, 422) and "Please correct" in r.text, r.text
    audit = client.get("/ui/audit?kind=list&actor=importer")
    assert audit.status_code == 200 and "importer" in audit.text and "import" in audit.text, audit.text
    assert client.get("/ui/audit?since=yesterday").status_code == 400
    r = client.get("/ui/audit?actor=nobody")
    assert r.status_code == 200 and "No events match" in r.text, r.text


def test_form_text_no_database_stores_is_refused(app: Flask) -> None:
    client, token = _signed_in(app, "screener", "nul")
    r = client.post("/ui/screen", data={"csrf_token": token, "name": "Chen\x00Quanguo"})
    assert r.status_code == 400 and "NUL" in r.text and r.mimetype == "text/html", r.text
    r = client.get("/ui/entries?q=%00")  # the app's guard, answered as a page
    assert r.status_code == 400 and r.mimetype == "text/html", r.text
    with app.extensions["db_sessionmaker"]() as db:
        assert db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.kind == "screening")) == 0


def test_signing_in_again_ends_the_previous_session(app: Flask) -> None:
    client, _ = _signed_in(app, "screener", "twice")
    sign_in(client, _key(app, "admin", "twice as admin"))
    with app.extensions["db_sessionmaker"]() as db:
        assert db.scalar(select(func.count()).select_from(UiSession)) == 1
    assert 'href="/ui/audit"' in client.get("/ui/screen").text

"""Webhook deliveries on SQLite and PostgreSQL: signed with the documented scheme (checked by the recipe of
the README itself), retried with back-off on an injected clock, every attempt recorded, leases that let one
worker only make an attempt, no redirect followed, the delivery thread working on its own."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from flask import Flask

from screening import notifications, store
from screening.db import dispose
from screening.listfile import load_list_file
from screening.monitoring_models import Alert, WebhookDelivery
from tests.conftest import ROOT, _key, make_app

SECRET = "whsec-test-0123456789"


def _recipe() -> Callable[..., bool]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- recipe:start -->\s*```python\n(.*?)```\s*<!-- recipe:end -->", text, re.S)
    assert block, "README.md (Ongoing monitoring) must hold the verification recipe between its markers"
    namespace: dict[str, Any] = {}
    exec(compile(block.group(1), "README.md", "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["verify_screening_webhook"]


verify = _recipe()


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that answers from a script of status codes (the last one repeats) and records
    each request with whether the documented recipe verified its signature."""

    def __init__(self, answers: list[int], delay: float = 0.0, location: str | None = None):
        self.answers, self.delay, self.location = list(answers), delay, location
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = dict(self.headers.items())
                receiver.requests.append({"path": self.path, "body": body, "headers": headers,
                                          "verified": verify(SECRET, headers.get("X-Screening-Timestamp", ""), body,
                                                             headers.get("X-Screening-Signature", ""))})
                time.sleep(receiver.delay)
                code = receiver.answers.pop(0) if len(receiver.answers) > 1 else receiver.answers[0]
                self.send_response(code)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/screening"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(*args: Any, **kwargs: Any) -> Receiver:
        made.append(Receiver(*args, **kwargs))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def webhook_app(db_url: str) -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    def make(url: str, **config: Any) -> Flask:
        app = make_app(db_url, WEBHOOK_URL=url, WEBHOOK_SECRET=SECRET, **config)
        apps.append(app)
        return app

    yield make
    for app in apps:
        notifications.stop_worker(app)
        dispose(app)


def _delivery(app: Flask, **fields: Any) -> tuple[int, int]:
    """An alert and its pending delivery, as the monitoring run writes them."""
    with app.extensions["db_sessionmaker"]() as session:
        alert = Alert(live_key="c-1\x1fe-1", subject_reference="c-1", entry_id="e-1", score=0.95,
                      matched_name="Ivan Petrov", explanation={}, citations=[], subject_name="Ivan Petrov",
                      subject_hash="s" * 64, entry_hash="e" * 64, version_opened=1)
        session.add(alert)
        session.flush()
        delivery = WebhookDelivery(alert_id=alert.id, event="alert.opened",
                                   payload={"event": "alert.opened", "alert": {"id": alert.id, "name": "Иван Петров"}},
                                   **fields)
        session.add(delivery)
        session.commit()
        return alert.id, delivery.id


def _row(app: Flask, delivery_id: int) -> WebhookDelivery:
    with app.extensions["db_sessionmaker"]() as session:
        row = session.get(WebhookDelivery, delivery_id)
        assert row is not None
        return row


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def test_signed_delivery_is_retried_after_a_500_and_recorded(webhook_app: Callable[..., Flask],
                                                            receivers: Callable[..., Receiver]) -> None:
    receiver = receivers([500, 204])
    app = webhook_app(receiver.url)
    alert_id, delivery_id = _delivery(app)
    t0 = (datetime.now(timezone.utc) + timedelta(seconds=1)).replace(microsecond=0)  # after the row was written

    assert notifications.run_due(app, now=t0) == 1
    row = _row(app, delivery_id)
    assert (row.status, row.attempts) == ("pending", 1), row.attempts_log
    assert _aware(row.next_attempt_at) == t0 + timedelta(seconds=10), "first retry 10 s later"
    assert row.attempts_log[0]["status_code"] == 500 and row.attempts_log[0]["error"] == "non-2xx answer"

    assert notifications.run_due(app, now=t0 + timedelta(seconds=9)) == 0, "not due before its back-off"
    assert notifications.run_due(app, now=t0 + timedelta(seconds=10)) == 1
    row = _row(app, delivery_id)
    assert (row.status, row.attempts) == ("delivered", 2), row.attempts_log
    assert [a["status_code"] for a in row.attempts_log] == [500, 204]
    assert notifications.run_due(app, now=t0 + timedelta(hours=2)) == 0, "a delivered event is never sent again"

    assert len(receiver.requests) == 2
    for request in receiver.requests:
        assert request["verified"], f"the documented recipe must verify the signature: {request['headers']}"
        assert request["path"] == "/hooks/screening"
        assert request["headers"]["X-Screening-Event"] == "alert.opened"
        assert request["headers"]["X-Screening-Delivery"] == str(delivery_id)
        assert request["headers"]["X-Screening-Signature"] == notifications.sign(
            SECRET, request["headers"]["X-Screening-Timestamp"], request["body"])
    assert receiver.requests[1]["headers"]["X-Screening-Timestamp"] == str(int((t0 + timedelta(seconds=10))
                                                                               .timestamp()))
    # The recipe refuses a wrong secret, a changed body and a replay an hour later.
    first = receiver.requests[0]
    ts, sig = first["headers"]["X-Screening-Timestamp"], first["headers"]["X-Screening-Signature"]
    assert not verify("other-secret", ts, first["body"], sig)
    assert not verify(SECRET, ts, first["body"] + b" ", sig)
    assert not verify(SECRET, ts, first["body"], sig, now=int(ts) + 3600)

    admin = {"Authorization": f"Bearer {_key(app, 'admin', 'ops')}"}
    listing = app.test_client().get(f"/v1/alerts/{alert_id}/deliveries", headers=admin)
    assert listing.status_code == 200, listing.get_json()
    (delivery,) = listing.get_json()["deliveries"]
    assert delivery["status"] == "delivered" and [a["status_code"] for a in delivery["attempts_log"]] == [500, 204]
    analyst = {"Authorization": f"Bearer {_key(app, 'analyst', 'desk')}"}
    assert app.test_client().get(f"/v1/alerts/{alert_id}/deliveries", headers=analyst).status_code == 403


def test_backoff_doubles_to_the_cap_and_gives_up(webhook_app: Callable[..., Flask],
                                                 receivers: Callable[..., Receiver]) -> None:
    assert [notifications.backoff_seconds(n) for n in range(1, 11)] == [10, 20, 40, 80, 160, 320, 640, 1280,
                                                                        2560, 3600]
    assert notifications.backoff_seconds(60) == 3600
    receiver = receivers([503])
    app = webhook_app(receiver.url, WEBHOOK_MAX_ATTEMPTS=3)
    _, delivery_id = _delivery(app)
    now = datetime.now(timezone.utc)
    for _ in range(3):
        assert notifications.run_due(app, now=now) == 1
        now = _aware(_row(app, delivery_id).next_attempt_at)
    row = _row(app, delivery_id)
    assert (row.status, row.attempts, len(row.attempts_log)) == ("failed", 3, 3), row.attempts_log
    assert notifications.run_due(app, now=now + timedelta(days=1)) == 0, "a failed delivery is not tried again"


def test_errors_and_redirects_are_failed_attempts(webhook_app: Callable[..., Flask],
                                                  receivers: Callable[..., Receiver],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = receivers([200])
    redirecting = receivers([307], location=elsewhere.url)
    app = webhook_app(redirecting.url)
    _, delivery_id = _delivery(app)
    now = datetime.now(timezone.utc)
    notifications.run_due(app, now=now)
    assert len(redirecting.requests) == 1 and elsewhere.requests == [], "a redirect is never followed"
    entry = _row(app, delivery_id).attempts_log[-1]
    assert entry["status_code"] == 307 and entry["error"] == "redirect not followed", entry

    slow = receivers([200], delay=1.5)
    monkeypatch.setattr(notifications, "REQUEST_TIMEOUT", 0.3)
    app.config["WEBHOOK_URL"] = slow.url
    now += timedelta(hours=1)
    notifications.run_due(app, now=now)
    entry = _row(app, delivery_id).attempts_log[-1]
    assert entry["status_code"] is None and "timed out" in entry["error"].lower(), entry

    app.config["WEBHOOK_URL"] = "http://127.0.0.1:9/closed"  # discard port: nothing listens
    now += timedelta(hours=1)
    notifications.run_due(app, now=now)
    row = _row(app, delivery_id)
    assert row.attempts_log[-1]["status_code"] is None and row.attempts_log[-1]["error"], row.attempts_log
    assert (row.status, row.attempts) == ("pending", 3)


def test_two_workers_never_claim_the_same_attempt(webhook_app: Callable[..., Flask]) -> None:
    app = webhook_app("http://127.0.0.1:9/unused")
    ids = [_delivery_only(app) for _ in range(5)]
    now = datetime.now(timezone.utc)
    barrier = threading.Barrier(4)
    claims: list[list[int]] = []

    def claim() -> None:
        barrier.wait()
        claims.append(notifications.claim_due(app, now))

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    taken = sorted(i for c in claims for i in c)
    assert taken == sorted(ids), f"each due delivery leased exactly once: {claims}"
    assert notifications.claim_due(app, now + timedelta(seconds=30)) == [], "leased: not claimable"
    expired = now + timedelta(seconds=notifications.LEASE_SECONDS + 1)
    assert sorted(notifications.claim_due(app, expired)) == sorted(ids), "a dead worker's lease expires"


def _delivery_only(app: Flask) -> int:
    with app.extensions["db_sessionmaker"]() as session:
        alert = Alert(live_key=None, subject_reference="c-2", entry_id="e-2", score=0.9, matched_name="x",
                      explanation={}, citations=[], subject_name="x", subject_hash="s" * 64, entry_hash="e" * 64,
                      version_opened=1)
        session.add(alert)
        session.flush()
        delivery = WebhookDelivery(alert_id=alert.id, payload={"alert": {"id": alert.id}})
        session.add(delivery)
        session.commit()
        return delivery.id


def test_the_delivery_thread_starts_with_the_app_and_delivers(webhook_app: Callable[..., Flask],
                                                              receivers: Callable[..., Receiver]) -> None:
    receiver = receivers([200])
    app = webhook_app(receiver.url, WEBHOOK_AUTOSTART=True, WEBHOOK_POLL_SECONDS=0.05)
    _, delivery_id = _delivery(app)
    assert "webhook_worker" not in app.extensions, "started by the first request, not at import (gunicorn master)"
    assert app.test_client().get("/healthz").status_code == 200
    deadline = time.monotonic() + 20
    while _row(app, delivery_id).status != "delivered" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _row(app, delivery_id).status == "delivered"
    assert receiver.requests and receiver.requests[0]["verified"]


def test_no_thread_in_tests_or_without_a_url(db_url: str) -> None:
    app = make_app(db_url)
    try:
        app.test_client().get("/healthz")
        assert "webhook_worker" not in app.extensions
        assert notifications.start_worker(app) is None, "no URL, no thread"
    finally:
        dispose(app)


def test_enqueue_alert_opened_queues_in_the_callers_transaction(webhook_app: Callable[..., Flask],
                                                                receivers: Callable[..., Receiver]) -> None:
    """The call the monitoring run makes when it opens an alert (the other half of this feature)."""
    import json

    receiver = receivers([200])
    app = webhook_app(receiver.url)
    with app.extensions["db_sessionmaker"]() as session:
        alert = Alert(live_key="c-3\x1fe-3", subject_reference="c-3", entry_id="e-3", score=0.91,
                      matched_name="Acme Trading", explanation={"tokens": 2}, citations=[{"source": "ofac"}],
                      subject_name="ACME Trading Ltd", subject_hash="s" * 64, entry_hash="e" * 64, version_opened=4)
        session.add(alert)
        session.flush()
        queued = notifications.enqueue_alert_opened(session, app.config, alert)
        assert queued is not None
        session.rollback()  # the run failed: neither the alert nor its delivery remain
    with app.extensions["db_sessionmaker"]() as session:
        assert session.query(WebhookDelivery).count() == 0
        session.add(alert := Alert(live_key="c-3\x1fe-3", subject_reference="c-3", entry_id="e-3", score=0.91,
                                   matched_name="Acme Trading", explanation={}, citations=[],
                                   subject_name="ACME Trading Ltd", subject_hash="s" * 64, entry_hash="e" * 64,
                                   version_opened=4))
        session.flush()
        notifications.enqueue_alert_opened(session, app.config, alert)
        session.commit()
        alert_id = alert.id
        assert notifications.enqueue_alert_opened(session, {"WEBHOOK_URL": None}, alert) is None
    assert notifications.run_due(app, now=datetime.now(timezone.utc) + timedelta(seconds=1)) == 1
    (request,) = receiver.requests
    body = json.loads(request["body"])
    assert request["verified"] and body["event"] == "alert.opened"
    assert body["alert"]["id"] == alert_id and body["alert"]["subject_reference"] == "c-3", body

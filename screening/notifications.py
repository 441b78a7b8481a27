"""Webhook deliveries of monitoring events (a new alert), signed, retried, and recorded attempt by attempt.

The row (WebhookDelivery) is written in the transaction that opens the alert, so an alert is never opened without
its notification nor notified without being opened. Each worker's delivery thread claims due deliveries with one
conditional UPDATE that sets a lease (longer than a request's timeout), so two workers never send the same attempt;
a worker that dies mid-attempt leaves a lease that expires, and the attempt is made again (receivers deduplicate
on `X-Screening-Delivery`).

Signature: `X-Screening-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>` with
`X-Screening-Timestamp: <unix seconds>`; the timestamp is signed so a captured request cannot be replayed later
(receivers refuse old timestamps). See the README (*Ongoing monitoring*) for the receiver's check.

Redirects are never followed (a 3xx is a failed attempt): the URL is the only place the payload may go.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import os
import threading
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from flask import Flask
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from .background import Backoff, poll_loop
from .models import iso_utc, utcnow
from .monitoring_models import Alert, WebhookDelivery

log = logging.getLogger(__name__)
REQUEST_TIMEOUT = 5.0  # seconds per attempt (connect and read)
LEASE_SECONDS = 60  # far longer than one attempt: a lease only expires when its worker died
BACKOFF_FIRST, BACKOFF_CAP = 10, 3600  # seconds before the next attempt: 10 s doubling, at most an hour
CLAIM_BATCH = 20
MAX_LOG_ERROR = 300


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


Sender = Callable[[str, bytes, dict[str, str]], Outcome]


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def body_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def backoff_seconds(attempts: int) -> int:
    """The wait after the `attempts`-th failed attempt."""
    return min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** min(max(attempts - 1, 0), 20))


def http_post(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """One POST with http.client: no redirect is ever followed, and the timeout bounds connect and each read."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Outcome(None, "the webhook URL must be http or https with a host")
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname, parts.port, timeout=REQUEST_TIMEOUT)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers=headers)
        # The status is all we need: the body is never read, so a receiver that drips one cannot hold the attempt
        # (and its lease) past the timeout of each read.
        return Outcome(connection.getresponse().status, None)
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}"[:MAX_LOG_ERROR])
    finally:
        connection.close()


def delivery_json(row: WebhookDelivery) -> dict[str, Any]:
    return {"id": row.id, "event": row.event, "status": row.status, "attempts": row.attempts,
            "attempts_log": row.attempts_log, "next_attempt_at": iso_utc(row.next_attempt_at, "seconds"),
            "created_at": iso_utc(row.created_at, "seconds"), "delivered_at": iso_utc(row.delivered_at, "seconds")}


def alert_payload(alert: Alert) -> dict[str, Any]:
    """What a receiver gets for a new alert: the alert as GET /v1/alerts/{id} gives it (the hit, its score,
    explanation and citations, the versions around it), enough to triage without calling back."""
    from .monitoring import alert_json

    return {"event": "alert.opened", "alert": alert_json(alert)}


def enqueue_alert_opened(session: Session, config: Any, alert: Alert) -> WebhookDelivery | None:
    """Queue the webhook delivery of a new alert in the caller's transaction (the one that opens the alert, so
    neither exists without the other); None when no webhook URL is configured. The alert must be flushed (id)."""
    if not config.get("WEBHOOK_URL"):
        return None
    assert alert.id is not None, "flush the alert before queueing its delivery: the payload names its id"
    delivery = WebhookDelivery(alert_id=alert.id, event="alert.opened", payload=alert_payload(alert),
                               status="pending", attempts=0, attempts_log=[], next_attempt_at=utcnow())
    session.add(delivery)
    return delivery


def _due(now: datetime) -> Any:
    return (WebhookDelivery.status == "pending") & (WebhookDelivery.next_attempt_at <= now) & or_(
        WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now)


def claim_due(app: Flask, now: datetime) -> list[int]:
    """Lease the deliveries due at `now`; each conditional UPDATE re-checks, so of two workers one gets each."""
    claimed: list[int] = []
    with app.extensions["db_sessionmaker"]() as session:
        ids = session.scalars(select(WebhookDelivery.id).where(_due(now))
                              .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(CLAIM_BATCH)).all()
        for delivery_id in ids:
            moved = session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id, _due(now))
                                    .values(lease_until=now + timedelta(seconds=LEASE_SECONDS)))
            session.commit()
            if moved.rowcount == 1:
                claimed.append(delivery_id)
    return claimed


def attempt(app: Flask, delivery_id: int, now: datetime, send: Sender | None = None) -> str:
    """Make one attempt of a leased delivery and record it; the delivery's status afterwards."""
    sessions = app.extensions["db_sessionmaker"]
    with sessions() as session:
        row = session.get(WebhookDelivery, delivery_id)
        if row is None or row.status != "pending":
            return row.status if row else "gone"
        url, secret = app.config.get("WEBHOOK_URL"), app.config.get("WEBHOOK_SECRET") or ""
        body = body_bytes(row.payload)
        timestamp = int(now.timestamp())
        headers = {"Content-Type": "application/json", "User-Agent": "screening-webhook/1",
                   "X-Screening-Event": row.event, "X-Screening-Delivery": str(row.id),
                   "X-Screening-Timestamp": str(timestamp), "X-Screening-Signature": sign(secret, timestamp, body)}
        # The request is made outside any transaction: a slow receiver must not hold a database connection's lock.
        session.rollback()
    started = time.monotonic()
    outcome = (send or http_post)(url, body, headers) if url else Outcome(None, "SCREENING_WEBHOOK_URL is not set")
    entry = {"at": iso_utc(now, "seconds"), "status_code": outcome.status_code, "error": outcome.error,
             "duration_ms": round((time.monotonic() - started) * 1000)}
    if outcome.status_code is not None and not outcome.ok:
        entry["error"] = "redirect not followed" if 300 <= outcome.status_code < 400 else "non-2xx answer"
    with sessions() as session:
        row = session.get(WebhookDelivery, delivery_id)
        assert row is not None, f"delivery {delivery_id} vanished while leased"
        attempts = row.attempts + 1
        values: dict[str, Any] = {"attempts": attempts, "attempts_log": [*(row.attempts_log or []), entry],
                                  "lease_until": None}
        if outcome.ok:
            values.update(status="delivered", delivered_at=now)
        elif attempts >= app.config.get("WEBHOOK_MAX_ATTEMPTS", 8):
            values.update(status="failed")
        else:
            values.update(next_attempt_at=now + timedelta(seconds=backoff_seconds(attempts)))
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id,
                                                      WebhookDelivery.status == "pending").values(**values))
        session.commit()
    status = values.get("status", "pending")
    if status != "delivered":
        log.warning("webhook delivery %d attempt %d: %s", delivery_id, attempts,
                    outcome.error or f"HTTP {outcome.status_code}")
    return status


def run_due(app: Flask, now: datetime | None = None, send: Sender | None = None) -> int:
    """Attempt every delivery due at `now` (the clock is injectable for tests); how many attempts were made."""
    now = now or utcnow()
    count = 0
    for delivery_id in claim_due(app, now):
        attempt(app, delivery_id, now, send)
        count += 1
    return count


# The delivery thread -----------------------------------------------------------------------------------------------

def worker_loop(app: Flask, stop: threading.Event) -> None:
    # While the database is down: 2 s doubling, at most a minute.
    poll_loop("webhook worker", lambda: run_due(app), lambda: app.config.get("WEBHOOK_POLL_SECONDS", 2.0), stop, log,
              backoff=Backoff(first=2.0, cap=60.0))


def start_worker(app: Flask) -> threading.Thread | None:
    """The delivery thread of this process, once per process (a thread does not survive a fork, so a forked worker
    starts its own); None without a webhook URL."""
    if not app.config.get("WEBHOOK_URL"):
        return None
    current = app.extensions.get("webhook_worker")
    if current is not None and current[0] == os.getpid() and current[1].is_alive():
        return current[1]
    stop = threading.Event()
    thread = threading.Thread(target=worker_loop, args=(app, stop), name="screening-webhooks", daemon=True)
    thread.start()
    app.extensions["webhook_worker"] = (os.getpid(), thread, stop)
    return thread


def stop_worker(app: Flask) -> None:
    current = app.extensions.pop("webhook_worker", None)
    if current is not None:
        current[2].set()
        current[1].join(timeout=10)


def init_app(app: Flask) -> None:
    """Start the delivery thread with the first request a process serves (a gunicorn master serves none, so it
    never runs one; its workers each do). gunicorn's post_fork also starts it, so an idle worker delivers too.
    Off under TESTING unless WEBHOOK_AUTOSTART is set."""
    if app.testing and not app.config.get("WEBHOOK_AUTOSTART"):
        return

    @app.before_request
    def _ensure_worker() -> None:
        current = app.extensions.get("webhook_worker")
        if current is None or current[0] != os.getpid():
            start_worker(app)

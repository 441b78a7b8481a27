"""Server-side sessions of the analyst interface (table `ui_sessions`, screening.ui_models).

A session is a random id in an HttpOnly, SameSite=Strict cookie scoped to /ui; the database keeps its SHA-256, the
key it was opened with, its CSRF token and when it was last used. A session ends when it is idle for
UI_SESSION_IDLE_MINUTES, UI_SESSION_MAX_HOURS after sign-in, at sign-out, or as soon as its key is revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from ..auth import Principal
from ..models import ApiKey, as_utc, utcnow
from ..ui_models import UiSession

COOKIE = "screening_ui"
PRE_COOKIE = "screening_ui_signin"  # the sign-in form's own CSRF token, before any session exists
TOUCH_EVERY = timedelta(seconds=30)  # last_seen_at is written at most this often: not one write per page


@dataclass(frozen=True)
class Current:
    row: UiSession
    principal: Principal


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def limits(config: Any) -> tuple[timedelta, timedelta]:
    return timedelta(minutes=config["UI_SESSION_IDLE_MINUTES"]), timedelta(hours=config["UI_SESSION_MAX_HOURS"])


def open_session(db: Session, key_id: str, config: Any) -> str:
    """A new session for the key; the raw id for the cookie. Expired sessions of every key are removed on the way
    (sign-ins are rare enough to carry that sweep, so no scheduler is needed)."""
    idle, most = limits(config)
    now = utcnow()
    db.execute(delete(UiSession).where(or_(UiSession.last_seen_at < now - idle, UiSession.created_at < now - most)))
    raw = secrets.token_urlsafe(32)
    db.add(UiSession(id_hash=_hash(raw), key_id=key_id, csrf_token=secrets.token_urlsafe(32), created_at=now,
                     last_seen_at=now))
    return raw


def load(db: Session, raw: str | None, config: Any, now: datetime | None = None) -> Current | None:
    """The live session of this cookie value with its key's principal; None (and the row removed) when the session
    is unknown, expired, or its key was revoked since."""
    if not raw or len(raw) > 200:
        return None
    row = db.get(UiSession, _hash(raw))
    if row is None:
        return None
    now = now or utcnow()
    idle, most = limits(config)
    key = db.scalar(select(ApiKey).where(ApiKey.key_id == row.key_id))
    if key is None or key.revoked_at is not None or as_utc(row.last_seen_at) + idle < now \
            or as_utc(row.created_at) + most < now:
        db.delete(row)
        db.commit()
        return None
    if now - as_utc(row.last_seen_at) > TOUCH_EVERY:
        row.last_seen_at = now
        db.commit()
    return Current(row, Principal(label=key.label, role=key.role, key_id=key.key_id))


def close(db: Session, raw: str | None) -> None:
    if raw:
        db.execute(delete(UiSession).where(UiSession.id_hash == _hash(raw)))
        db.commit()


def same_token(expected: str | None, presented: str | None) -> bool:
    """Constant-time comparison of CSRF tokens (both must be present)."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), presented.encode("utf-8"))

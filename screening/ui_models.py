"""The analyst interface's sign-in sessions, kept in the database so that every gunicorn worker (and a restart)
sees the same sessions, and signing out or revoking the key ends a session everywhere at once.

The browser's cookie holds only a random session id; the table keeps its SHA-256, so a copy of the database does
not hand out live sessions. The API key itself is never stored: the session points at the key's row (`key_id`), and
each request checks that row again (a revoked key's sessions stop working at their next request).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, utcnow


class UiSession(Base):
    __tablename__ = "ui_sessions"
    __table_args__ = (Index("ix_ui_sessions_key_id", "key_id"),)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 (hex) of the cookie's session id
    key_id: Mapped[str] = mapped_column(String(32))  # the API key signed in with (its public part)
    csrf_token: Mapped[str] = mapped_column(String(64))  # sent back by every form of this session
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)

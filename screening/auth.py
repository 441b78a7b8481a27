"""API keys: `scr_<key id>_<secret>`, stored as SHA-256 of the whole key, compared in constant time.

The keys are long random strings (256 bits), so a fast hash is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import wraps
from typing import Any, Callable, TypeVar

from flask import current_app, g, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import get_session
from .errors import ApiError
from .models import ApiKey, utcnow

ROLES = ("screener", "analyst", "admin")
# Each role includes the ones before it: an analyst screens and decides alerts, an admin also runs the service.
RANK = {role: rank for rank, role in enumerate(ROLES)}
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Principal:
    label: str
    role: str
    key_id: str | None = None  # what a key's jobs belong to (a label is free text and may repeat); None: no auth


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(session: Session, *, role: str, label: str) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    key_id = secrets.token_hex(6)
    key = f"scr_{key_id}_{secrets.token_urlsafe(32)}"
    session.add(ApiKey(key_id=key_id, key_hash=_hash(key), label=label, role=role))
    return key


def verify_key(session: Session, presented: str) -> Principal | None:
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != "scr":
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.key_id == parts[1]))
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, _hash(presented)):
        return None
    return Principal(label=row.label, role=row.role, key_id=row.key_id)


def revoke_key(session: Session, key_id: str) -> bool:
    row = session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


def current_principal() -> Principal:
    if current_app.config.get("AUTH_DISABLED"):
        return Principal(label="anonymous", role="admin")
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "Unauthorized", "Send an API key as 'Authorization: Bearer <key>'.", slug="unauthorized")
    principal = verify_key(get_session(), token.strip())
    if principal is None:
        raise ApiError(401, "Unauthorized", "The API key is not valid or was revoked.", slug="unauthorized")
    return principal


def require(role: str) -> Callable[[F], F]:
    """Route decorator: a valid key (401 otherwise) with `role` or a higher one in ROLES (403 otherwise)."""
    if role not in RANK:
        raise ValueError(f"unknown role {role!r}")

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if RANK.get(principal.role, -1) < RANK[role]:
                raise ApiError(403, "Forbidden", f"This needs a key with the {role} role"
                               + (" or a higher one." if role != ROLES[-1] else "."), slug="forbidden")
            g.principal = principal
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator

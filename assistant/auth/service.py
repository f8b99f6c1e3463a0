"""Creating, checking and revoking API keys."""

from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy import Engine
from sqlmodel import Session, select

from assistant.auth.models import ApiKey, Role
from assistant.db import session_scope, utcnow
from assistant.errors import InvalidInput, NotFound
from assistant.tickets.models import reject_unstorable

KEY_PREFIX = "sda_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


MAX_KEY_NAME = 100


def create_api_key(session: Session, *, name: str, role: str) -> tuple[ApiKey, str]:
    """Returns the stored row and the key itself, which is shown this once and never stored."""
    if role not in {r.value for r in Role}:
        raise InvalidInput(f"Unknown role {role!r}; use one of {', '.join(r.value for r in Role)}.")
    name = name.strip()
    if not name or len(name) > MAX_KEY_NAME:
        # The name is how a lead tells keys apart in the list, and which to revoke.
        raise InvalidInput(f"A key needs a name of 1 to {MAX_KEY_NAME} characters saying whose it is.")
    try:
        reject_unstorable(name)
    except ValueError as exc:
        raise InvalidInput(f"The key's name cannot be stored: {exc}.") from None
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, role=role, prefix=key[:12], key_hash=hash_key(key))
    session.add(row)
    session.commit()
    session.refresh(row)
    return row, key


def authenticate(session: Session, *, key: str) -> ApiKey | None:
    row = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).first()
    if row is None or row.revoked_at is not None:
        return None
    return row


def revoke_api_key(session: Session, *, key_id: int) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"No API key with id {key_id}.", code="api_key_not_found")
    row.revoked_at = row.revoked_at or utcnow()
    session.add(row)
    session.commit()
    return row


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).order_by(ApiKey.id)).all())


class KeyRoles:
    """Roles of recently seen keys, so that a request does not cost a database query on the event loop.

    A key revoked (from the CLI, or by another process) stops working within ``ttl_seconds``; a key
    tried before it existed works within the same time.
    """

    def __init__(self, engine: Engine, *, ttl_seconds: float = 5.0) -> None:
        self.engine = engine
        self.ttl = ttl_seconds
        self._roles: dict[str, tuple[str | None, float]] = {}

    def cached_role(self, key: str) -> str | bool | None:
        """The role if known (``None``: known not to be a key), ``False`` when the database must be asked."""
        cached = self._roles.get(hash_key(key))
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        return False

    def role_of(self, key: str) -> str | None:
        """Blocking: asks the database unless the answer is cached."""
        cached = self.cached_role(key)
        if cached is not False:
            return cached  # type: ignore[return-value]
        with session_scope(self.engine) as session:
            row = authenticate(session, key=key)
        if len(self._roles) > 10_000:  # a flood of distinct keys cannot grow this without bound
            self._roles.clear()
        # Unknown keys are remembered too (briefly): a flood of made-up keys costs no database query each.
        self._roles[hash_key(key)] = (None if row is None else row.role, time.monotonic() + self.ttl)
        return None if row is None else row.role

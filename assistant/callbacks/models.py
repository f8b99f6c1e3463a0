"""Subscriptions to callbacks and the outbox of deliveries owed to them."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import field_validator
from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from assistant.db import UTCDateTime, utcnow

if TYPE_CHECKING:
    import httpx


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    dead = "dead"  # gave up after the last attempt; kept for an operator to inspect or retry


class CallbackSubscription(SQLModel, table=True):
    __tablename__ = "callback_subscriptions"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2_000)
    # Signs each delivery like our own webhooks: HMAC-SHA256 over "<X-Timestamp>.<body>".
    secret: str = Field(max_length=128)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OutboxDelivery(SQLModel, table=True):
    __tablename__ = "callback_outbox"
    __table_args__ = (Index("ix_callback_outbox_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="callback_subscriptions.id", ondelete="CASCADE")
    event: str = Field(max_length=64)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default=DeliveryStatus.pending.value, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # A worker that claimed the row holds it until then; after a crash another worker takes it over.
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    locked_by: str | None = Field(default=None, max_length=32)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SubscriptionCreate(SQLModel):
    url: str = Field(min_length=8, max_length=2_000)
    secret: str | None = Field(default=None, min_length=16, max_length=128)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        import httpx

        if not value.startswith(("http://", "https://")) or any(c.isspace() or ord(c) < 32 for c in value):
            raise ValueError("url must be an http:// or https:// address")
        try:
            url = httpx.URL(value)
            if not url.host:
                raise ValueError("url needs a host")
            _check_reachable(url)
        except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
            raise ValueError(f"url is not a valid address: {exc}") from None
        return value

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is not None and any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("secret may not contain control characters")
        return value


# A DNS label: letters, digits, hyphens inside (underscores too, which some internal names carry), at most 63.
_HOST_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def _check_reachable(url: httpx.URL) -> None:
    """A port and a host a connection could be made to: httpx parses more than that, and an address accepted here
    that no delivery can reach is only found dead after every retry."""
    if url.port is not None and not 0 < url.port < 65_536:
        raise ValueError(f"port {url.port} is not from 1 to 65535")
    try:
        ipaddress.ip_address(url.host)
        return
    except ValueError:
        pass
    name = url.raw_host.decode("ascii")  # internationalised names already in their ASCII (punycode) form
    labels = name.removesuffix(".").split(".")
    if len(name) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{url.host!r} is not a host name")


class SubscriptionRead(SQLModel):
    id: int
    url: str
    active: bool
    created_at: datetime
    # Shown when the subscription is made, so the receiver can check signatures.
    secret: str | None = None


class DeliveryRead(SQLModel):
    id: int
    subscription_id: int
    event: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any]

"""Webhook signatures: HMAC-SHA256 over ``"<timestamp>.<raw body>"`` with a per-source secret."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from assistant.errors import InvalidSignature

TIMESTAMP_HEADER = "x-timestamp"
SIGNATURE_HEADER = "x-signature"
SIGNATURE_PREFIX = "sha256="
_UNIX_SECONDS = re.compile(r"\d{1,12}")


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def signed_headers(secret: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """Headers a ticketing system sends; used by the demo client, tests and benchmarks."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return {
        "X-Timestamp": str(stamp),
        "X-Signature": sign(secret, stamp, body),
        "Content-Type": "application/json",
    }


def usable_secrets(configured: str | Sequence[Any], now: float) -> list[str]:
    """A source's secrets still valid at ``now``: during a rotation both the new and the old one.

    A secret is a string, or ``{"secret": ..., "expires": <ISO time or unix seconds>}`` for the old
    one of a rotation.
    """
    if isinstance(configured, str):
        return [configured]
    usable = []
    for item in configured:
        if isinstance(item, str):
            usable.append(item)
        elif isinstance(item, Mapping) and "secret" in item:
            expires = item.get("expires")
            if expires is None or _epoch(expires) > now:
                usable.append(str(item["secret"]))
    return usable


def _epoch(moment: Any) -> float:
    if isinstance(moment, int | float):
        return float(moment)
    parsed = datetime.fromisoformat(str(moment))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def verify_signature(
    *,
    secrets: Mapping[str, str | Sequence[Any]],
    source: object,  # as the body names it: anything but a non-empty string names no source
    headers: Mapping[str, str],
    body: bytes,
    tolerance_seconds: int,
    now: float | None = None,
) -> None:
    timestamp = headers.get(TIMESTAMP_HEADER)
    signature = headers.get(SIGNATURE_HEADER)
    if not timestamp or not signature:
        raise InvalidSignature("Webhook requests need X-Timestamp and X-Signature headers.", code="missing_signature")
    if not isinstance(source, str) or not source:
        raise InvalidSignature(
            "The body names no 'source' (a string), so no secret can verify its signature; send the source "
            "name your secret was issued for.",
            code="missing_source",
        )
    configured = secrets.get(source)
    if configured is None:
        raise InvalidSignature(f"No webhook secret is configured for source {source!r}.", code="unknown_source")
    if not _UNIX_SECONDS.fullmatch(timestamp):
        raise InvalidSignature("X-Timestamp must be unix seconds.", code="invalid_timestamp")
    sent_at = int(timestamp)
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_seconds:
        raise InvalidSignature(
            f"X-Timestamp is more than {tolerance_seconds} seconds from the server's clock; "
            "the request may be a replay.",
            code="stale_timestamp",
        )
    given = signature.strip().encode("utf-8", "replace")
    # Every usable secret is tried, so that a sender may switch to the new one at any time in the overlap.
    matches = [
        hmac.compare_digest(sign(secret, timestamp, body).encode(), given)
        for secret in usable_secrets(configured, current)
    ]
    if not any(matches):
        raise InvalidSignature("The signature does not match the body.", code="invalid_signature")

"""Helpers shared by the tests."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from assistant.security import signed_headers

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
POSTGRES_URL = os.environ.get("ASSISTANT_TEST_POSTGRES_URL", "")
WEBHOOK_SOURCE = "acme-desk"
WEBHOOK_SECRET = "test-secret-0123456789"


def shared_data(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data set {path} is not here (it lives beside the project in ../shared/data)")
    return path


def ticket_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "source": WEBHOOK_SOURCE,
        "external_id": f"T-{uuid.uuid4().hex[:8]}",
        "event_id": "evt-1",
        "subject": "Where is my parcel?",
        "body": "I ordered a kettle ten days ago and the tracking has not moved since Monday.",
        "channel": "email",
        "customer_ref": "cust-42",
        "created_at": "2026-11-20T09:30:00+01:00",
    }
    payload.update(overrides)
    return payload


def post_ticket(
    client: TestClient[Any], payload: dict[str, Any] | bytes, *, secret: str = WEBHOOK_SECRET, **kwargs: Any
) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = signed_headers(secret, body, **kwargs)
    return client.post("/v1/webhooks/tickets", content=body, headers=headers)


def deliver_events(client: TestClient[Any], events: list[dict[str, Any]], *, secret: str = WEBHOOK_SECRET) -> Any:
    """One signed batch of ticket events, as a ticketing system delivers them to /v1/webhooks/events."""
    body = json.dumps({"events": events}).encode()
    return client.post("/v1/webhooks/events", content=body, headers=signed_headers(secret, body))

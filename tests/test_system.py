"""Health, readiness, the OpenAPI schema and its docs page."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from litestar.testing import TestClient
from sqlalchemy import Engine
from sqlmodel import SQLModel

import assistant.models  # noqa: F401  (every table on SQLModel.metadata)


def test_health_and_ready(client: TestClient[Any]) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "encoder": True, "classifier": True}
    assert ready.json()["model_version"]


def test_openapi_schema_and_docs(client: TestClient[Any]) -> None:
    schema = client.get("/schema/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/v1/webhooks/tickets", "/v1/route", "/v1/tickets/{ticket_id}", "/health", "/ready"):
        assert path in paths, path
    # The signed webhooks read their raw body (the signature is over it), yet their bodies are documented.
    operations = {path: paths[path]["post"] for path in ("/v1/webhooks/tickets", "/v1/webhooks/events")}
    ticket_body = operations["/v1/webhooks/tickets"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"source", "external_id", "event_id", "created_at", "updated_at"} <= set(ticket_body["properties"])
    assert "older than the version stored" in ticket_body["properties"]["updated_at"]["description"]
    assert ticket_body["properties"]["channel"]["enum"][0] == "email"  # written in place, not a dangling $ref
    one_or_batch = operations["/v1/webhooks/events"]["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert one_or_batch[1]["properties"]["events"]["items"] == one_or_batch[0]
    assert "$defs" not in schema.text
    docs = client.get("/schema/swagger")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    # Served from this service, never from a CDN: the machine may have no internet.
    assert "http://" not in docs.text and "https://" not in docs.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
        assert f"/schema/assets/{asset}" in docs.text
        assert client.get(f"/schema/assets/{asset}").status_code == 200
    # A path no file system can hold is no such file, not a 500.
    for prefix in ("/schema/assets", "/console/static"):
        for name in ("%00", "a%00.js", "a" * 300, "a/" * 3_000):
            missing = client.get(f"{prefix}/{name}")
            assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found", (prefix, name)
        assert client.get(f"{prefix}/no-such-file.js").status_code == 404


def test_the_migrations_build_the_schema_the_models_declare(engine: Engine) -> None:
    """A column added to a model without a migration (or the other way round) shows here, not in production."""
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []

"""The request bodies of the signed webhooks in the OpenAPI schema. Their handlers read the raw bytes (the
signature is over them, checked before anything is parsed), so Litestar cannot see the model a body must match,
and integrators reading the docs page saw no body at all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.openapi.spec import OpenAPIMediaType, RequestBody
from pydantic import BaseModel

from assistant.errors import ApiOperation


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its definitions written in place: OpenAPI resolves ``$ref`` against its
    components, where pydantic's ``#/$defs/…`` do not exist."""
    schema = model.model_json_schema()
    definitions: dict[str, Any] = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and reference.startswith("#/$defs/"):
                rest = {key: value for key, value in node.items() if key != "$ref"}
                return inline(definitions[reference.removeprefix("#/$defs/")] | rest)
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    return inline(schema)


def signed_body(model: type[BaseModel], *, batch_key: str | None = None) -> type[ApiOperation]:
    """An operation class documenting a signed webhook's body: one ``model``, or with ``batch_key`` also a batch
    of them under that key (``{"events": [...]}``), as ``assistant.webhooks.read_signed_batch`` reads it."""
    item = json_schema(model)
    schema = item
    if batch_key is not None:
        batch = {
            "type": "object",
            "required": [batch_key],
            "properties": {
                "source": {"type": "string", "description": "The signing source; else the first item's."},
                batch_key: {"type": "array", "items": item, "minItems": 1},
            },
        }
        schema = {"oneOf": [item, batch]}

    @dataclass
    class SignedBodyOperation(ApiOperation):
        def __post_init__(self) -> None:
            super().__post_init__()
            self.request_body = RequestBody(
                content={"application/json": OpenAPIMediaType(schema=schema)},  # type: ignore[arg-type]
                required=True,
                description="Signed: X-Timestamp and X-Signature headers over the raw body (see the summary).",
            )

    return SignedBodyOperation

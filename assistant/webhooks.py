"""Signed batch webhooks (interaction events, survey responses): one item, or a list of them under one key.

The signing source is the envelope's, else the first item's; every item of a delivery must then share it,
so one source's secret can never vouch for another's data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from assistant.errors import InvalidInput, validation_details
from assistant.security import verify_signature
from assistant.tickets.routes import parse_json_object

Item = TypeVar("Item", bound=BaseModel)


def read_signed_batch(
    body: bytes,
    *,
    headers: Mapping[str, str],
    secrets: Mapping[str, Any],
    tolerance_seconds: int,
    key: str,
    model: type[Item],
    noun: str,
    limit: int,
    bulk_hint: str,
) -> list[Item]:
    """The delivery's items, validated, after its signature was verified. ``key``: the list's name in the
    envelope (``events``); ``noun``: what one item is called in messages (``Event``)."""
    raw = parse_json_object(body)
    batch = raw.get(key) if key in raw else [raw]
    first = batch[0] if isinstance(batch, list) and batch and isinstance(batch[0], dict) else {}
    source = raw.get("source") or first.get("source")
    verify_signature(secrets=secrets, source=source, headers=headers, body=body, tolerance_seconds=tolerance_seconds)
    if not isinstance(batch, list) or not batch:
        raise InvalidInput(f"'{key}' must be a non-empty list.", code="validation_error")
    if len(batch) > limit:
        raise InvalidInput(f"At most {limit} {key} per delivery; {bulk_hint}", code=f"too_many_{key}")
    items = []
    for number, item in enumerate(batch):
        try:
            parsed = model.model_validate(item)
        except ValidationError as exc:
            raise InvalidInput(f"{noun} {number} is not valid.", details=validation_details(exc)) from None
        if getattr(parsed, "source", None) != source:
            raise InvalidInput(f"All {key} of one delivery must come from the signing source.", code="mixed_sources")
        items.append(parsed)
    return items

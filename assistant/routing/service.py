"""Routing a free text, and describing the routing set-up."""

from __future__ import annotations

from typing import Any

from assistant.errors import InvalidInput
from assistant.routing.engine import RoutingEngine
from assistant.tickets.models import DecisionRead, RouteRequest


def check_text_length(*, max_text_chars: int, **texts: str) -> None:
    for name, text in texts.items():
        if len(text) > max_text_chars:
            raise InvalidInput(
                f"{name} has {len(text)} characters; at most {max_text_chars} are accepted.",
                code="text_too_long",
            )


async def route_text(routing: RoutingEngine, *, request: RouteRequest, max_text_chars: int) -> DecisionRead:
    check_text_length(max_text_chars=max_text_chars, text=request.text, body=request.body)
    body = "\n".join(part for part in (request.text.strip(), request.body.strip()) if part)
    return await routing.decide_async(
        subject=request.subject,
        body=body,
        channel=request.channel.value,
        customer_tier=request.customer_tier,
    )


def routing_config(routing: RoutingEngine) -> dict[str, Any]:
    classifier = routing.classifiers.current()
    return {
        "confidence_threshold": routing.confidence_threshold,
        "out_of_scope_threshold": (
            routing.out_of_scope_threshold
            if routing.out_of_scope_threshold is not None
            else classifier.out_of_scope_threshold
        ),
        "classifier": {
            "version": classifier.version,
            "model_name": classifier.model_name,
            "label_kind": classifier.meta.get("label_kind"),
            "labels": classifier.labels,
            "departments": classifier.departments,
            "training_rows": classifier.meta.get("training_rows"),
            "created_at": classifier.meta.get("created_at"),
            "metrics": classifier.meta.get("metrics", {}),
        },
        "rules": [rule.to_dict() for rule in routing.rules],
    }

"""Routing without storing anything, and the active routing configuration."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from assistant.auth.models import Role
from assistant.routing import service
from assistant.routing.engine import RoutingEngine
from assistant.settings import Settings
from assistant.tickets.models import DecisionRead, RouteRequest

ROUTE_ROLES = [Role.admin, Role.agent, Role.integration]


@post(
    "/v1/route",
    tags=["routing"],
    summary="Route a text; nothing is stored",
    opt={"roles": ROUTE_ROLES},
    status_code=200,
)
async def route_text(
    data: JSONBody[RouteRequest], routing: NamedDependency[RoutingEngine], settings: NamedDependency[Settings]
) -> DecisionRead:
    return await service.route_text(routing, request=data, max_text_chars=settings.max_text_chars)


@get(
    "/v1/routing/config",
    tags=["routing"],
    summary="Active rules, thresholds and classifier",
    opt={"roles": [Role.admin, Role.agent]},
    sync_to_thread=True,
)
def routing_config(routing: NamedDependency[RoutingEngine]) -> dict[str, Any]:
    return service.routing_config(routing)

"""Bearer API keys on every non-public route; each route names the roles it admits in ``opt["roles"]``."""

from __future__ import annotations

from typing import Any

import anyio
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from assistant.auth.service import hash_key
from assistant.errors import Forbidden, Unauthorized, deny_websocket


async def require_role(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Admits a key whose role the route lists; webhooks (``opt["signed"]``) check their signature instead."""
    if handler.opt.get("signed"):
        return
    try:
        await _check_key(connection, handler)
    except (Unauthorized, Forbidden) as exc:
        if connection.scope["type"] == "websocket":
            raise deny_websocket(connection.scope, exc) from None
        raise


async def _check_key(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    roles: tuple[str, ...] = tuple(handler.opt.get("roles", ()))
    key = presented_key(connection)
    if not key:
        raise Unauthorized("Send an API key as 'Authorization: Bearer <key>'.", code="missing_api_key")
    key_roles = connection.app.state.key_roles
    role = key_roles.cached_role(key)
    if role is False:  # the database is asked off the event loop
        role = await anyio.to_thread.run_sync(key_roles.role_of, key)
    if role is None:
        raise Unauthorized("The API key is unknown or revoked.", code="invalid_api_key")
    if roles and role not in roles:
        raise Forbidden(
            f"A key with role {role!r} may not use this route; it needs one of: {', '.join(roles)}.",
            code="wrong_role",
        )
    connection.scope["api_key_role"] = role  # type: ignore[typeddict-unknown-key]
    # A stable, non-secret name for the caller (rate limits, logs): a prefix of the key's hash.
    connection.scope["api_key_id"] = hash_key(key)[:16]  # type: ignore[typeddict-unknown-key]


# A browser cannot set headers on a WebSocket: the console offers its key as a subprotocol, ``bearer.<key>``,
# beside ``LIVE_PROTOCOL``, which the server picks. API keys are URL-safe, so they are valid protocol tokens.
KEY_PROTOCOL_PREFIX = "bearer."
LIVE_PROTOCOL = "assistant.v1"


def presented_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    scheme, _, key = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and key.strip():
        return key.strip()
    if connection.scope["type"] == "websocket":
        for offered in offered_protocols(connection):
            if offered.startswith(KEY_PROTOCOL_PREFIX):
                return offered.removeprefix(KEY_PROTOCOL_PREFIX)
    return ""


def offered_protocols(connection: ASGIConnection[Any, Any, Any, Any]) -> list[str]:
    return [p.strip() for p in connection.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]

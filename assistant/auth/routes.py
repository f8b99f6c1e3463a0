"""Who the caller is: the console asks at sign-in. Console roles only: a portal or integration key has
no use for it, and reaches nothing beyond its own routes."""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from assistant.auth.models import Role


@get(
    "/v1/me",
    tags=["auth"],
    summary="The calling key's role (console roles: admin, agent)",
    opt={"roles": [Role.admin, Role.agent]},
)
async def whoami(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"role": str(request.scope.get("api_key_role", "")), "key_id": str(request.scope.get("api_key_id", ""))}

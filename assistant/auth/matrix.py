"""The role matrix, read from the routes themselves: which roles each route admits."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Litestar
from litestar.routes import HTTPRoute, WebSocketRoute

from assistant.auth.guards import require_role
from assistant.auth.models import Role

PUBLIC = "public"
SIGNED = "signed"


@dataclass(frozen=True, slots=True)
class RouteAccess:
    method: str
    path: str
    # Roles admitted, or ("signed",) for webhooks, or ("public",) for health and docs.
    admits: tuple[str, ...]


def role_matrix(app: Litestar) -> list[RouteAccess]:
    rows = []
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            handlers = [(method, entry[0]) for method, entry in route.route_handler_map.items() if method != "OPTIONS"]
        elif isinstance(route, WebSocketRoute):
            handlers = [("WS", route.route_handler)]
        else:
            continue
        for method, handler in handlers:
            # Litestar wraps guards; the wrapped function is on ``func``.
            guarded = any(getattr(guard, "func", guard) is require_role for guard in handler.resolve_guards())
            if handler.opt.get("signed"):
                admits: tuple[str, ...] = (SIGNED,)
            elif guarded:
                admits = tuple(str(role) for role in handler.opt.get("roles", [r.value for r in Role]))
            else:
                admits = (PUBLIC,)
            rows.append(RouteAccess(method, route.path, admits))
    return sorted(rows, key=lambda r: (r.path, r.method))


def matrix_markdown(app: Litestar) -> str:
    roles = [role.value for role in Role]
    lines = ["| route | " + " | ".join(roles) + " |", "|---|" + "---|" * len(roles)]
    for row in role_matrix(app):
        if row.path.startswith("/schema"):
            continue
        if row.admits in ((SIGNED,), (PUBLIC,)):
            cells = [row.admits[0]] * len(roles)
        else:
            cells = ["yes" if role in row.admits else "—" for role in roles]
        lines.append(f"| `{row.method} {row.path}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)

"""Every route, every role: 401 without a key, 403 with a key of a role the route does not admit."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import TestClient

from assistant.auth.matrix import PUBLIC, SIGNED, matrix_markdown, role_matrix
from assistant.auth.models import Role
from tests.support import ROOT

Headers = dict[str, str]


def concrete(path: str) -> str:
    """A request path for a route pattern: ids 1, names 'x'."""
    return re.sub(r"\{(\w+):(\w+)\}", lambda m: "1" if m.group(2) == "int" else "x", path)


def test_every_route_admits_exactly_its_roles(client: TestClient[Any], make_key: Callable[[str], Headers]) -> None:
    keys = {role.value: make_key(role.value) for role in Role}
    checked = 0
    for route in role_matrix(client.app):
        if route.path.startswith("/schema") or route.admits in ((PUBLIC,), (SIGNED,)):
            continue
        path = concrete(route.path)
        if route.method == "WS":
            for role, headers in [("none", {}), *keys.items()]:
                if role in route.admits:
                    with client.websocket_connect(path, headers=headers) as socket:
                        socket.send_json({"type": "reset"})
                    continue
                # The handshake is refused; the test client raises on it.
                with pytest.raises(Exception), client.websocket_connect(path, headers=headers) as socket:  # noqa: B017
                    socket.receive_json()
            checked += 1
            continue
        anonymous = client.request(route.method, path, json={})
        assert anonymous.status_code == 401, (route, anonymous.text)
        assert anonymous.json()["error"]["code"] == "missing_api_key"
        wrong = client.request(route.method, path, json={}, headers={"Authorization": "Bearer sda_not-a-key"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
        for role, headers in keys.items():
            response = client.request(route.method, path, json={}, headers=headers)
            if role in route.admits:
                assert response.status_code not in (401, 403), (route, role, response.text)
            else:
                assert response.status_code == 403, (route, role, response.text)
                assert response.json()["error"]["code"] == "wrong_role"
        checked += 1
    assert checked >= 20


def test_a_portal_key_reaches_the_faq_search_and_nothing_else(client: TestClient[Any]) -> None:
    admitted = [r for r in role_matrix(client.app) if Role.portal.value in r.admits]
    assert [(r.method, r.path) for r in admitted] == [("GET", "/v1/faq/search")]


def test_the_documented_matrix_is_the_codes(client: TestClient[Any]) -> None:
    documented = (ROOT / "docs" / "SECURITY.md").read_text()
    assert matrix_markdown(client.app) in documented, "regenerate it with `assistant roles`"

"""The console's pages and the API routes it relies on, through the real app and database.

The browser itself is driven in tests/test_console_browser.py; these tests pin the contracts underneath:
pages that load nothing from elsewhere, the ticket queue, tickets opened in the console counting in the
KPIs through their own events, and the WebSocket key offered as a subprotocol (a browser cannot set headers).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from assistant.console.routes import PAGES, STATIC_DIR
from tests.support import deliver_events, post_ticket, ticket_payload

Headers = dict[str, str]
EXTERNAL = re.compile(
    r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|import\s[^;]*["']https?://"""
)


@pytest.fixture
def agent(make_key: Callable[[str], Headers]) -> Headers:
    return make_key("agent")


def test_pages_are_served_without_anything_from_elsewhere(client: TestClient[Any]) -> None:
    assert client.get("/console", follow_redirects=False).headers["location"] == "/console/agent"
    for page in PAGES:
        response = client.get(f"/console/{page}")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert not EXTERNAL.search(response.text), page
        assert f'src="/console/static/{page}.js"' in response.text
    for asset in STATIC_DIR.iterdir():
        served = client.get(f"/console/static/{asset.name}")
        assert served.status_code == 200, asset.name
        assert not EXTERNAL.search(served.text), asset.name
    missing = client.get("/console/nowhere")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "page_not_found"


def test_every_form_control_has_a_label() -> None:
    pages = Path(STATIC_DIR).parent / "pages"
    for page in pages.glob("*.html"):
        html = page.read_text()
        for control in re.finditer(r"<(input|select|textarea)\b([^>]*)>", html):
            attributes = control.group(2)
            if 'type="hidden"' in attributes:
                continue
            # A checkbox or radio inside its <label> is labelled by it.
            wrapped = re.search(r"<label[^>]*>\s*" + re.escape(control.group(0)), html)
            ident = re.search(r'id="([^"]+)"', attributes)
            labelled = bool(ident) and f'for="{ident.group(1)}"' in html
            assert wrapped or labelled or "aria-label" in attributes, f"{page.name}: no label for {control.group(0)}"


def test_who_am_i(client: TestClient[Any], agent: Headers, make_key: Callable[[str], Headers]) -> None:
    me = client.get("/v1/me", headers=agent)
    assert me.status_code == 200 and me.json()["role"] == "agent" and len(me.json()["key_id"]) == 16
    assert client.get("/v1/me").status_code == 401
    assert client.get("/v1/me", headers=make_key("portal")).status_code == 403


def test_the_ticket_queue_lists_filters_and_pages(client: TestClient[Any], agent: Headers) -> None:
    parcel = post_ticket(client, ticket_payload(subject="Parcel lost", body="The parcel never came."))
    charged = post_ticket(client, ticket_payload(subject="Charged twice", body="Two charges for one order."))
    assert parcel.status_code == 201 and charged.status_code == 201
    page = client.get("/v1/tickets", headers=agent).json()
    assert page["total"] == 2 and [t["subject"] for t in page["tickets"]] == ["Charged twice", "Parcel lost"]
    first = page["tickets"][0]
    assert first["solved"] is False and first["department"] and first["excerpt"] == "Two charges for one order."
    found = client.get("/v1/tickets", params={"text": "PARCEL"}, headers=agent).json()
    assert [t["subject"] for t in found["tickets"]] == ["Parcel lost"]
    department = first["department"]
    by_department = client.get("/v1/tickets", params={"department": department}, headers=agent).json()
    assert all(t["department"] == department for t in by_department["tickets"]) and by_department["total"] >= 1
    solved = client.post(
        f"/v1/tickets/{first['id']}/solve", json={"resolution": "Refunded the duplicate."}, headers=agent
    )
    assert solved.status_code == 201
    still_open = client.get("/v1/tickets", params={"solved": "false"}, headers=agent).json()
    assert [t["subject"] for t in still_open["tickets"]] == ["Parcel lost"]
    paged = client.get("/v1/tickets", params={"limit": 1, "offset": 1}, headers=agent).json()
    assert paged["total"] == 2 and len(paged["tickets"]) == 1 and paged["offset"] == 1
    bad = client.get("/v1/tickets", params={"limit": 0}, headers=agent)
    assert bad.status_code == 400 and bad.json()["error"]["code"]


def test_a_ticket_solved_in_its_own_ticketing_system_leaves_the_queue(client: TestClient[Any], agent: Headers) -> None:
    payload = ticket_payload(subject="Refund missing", body="The refund for my return has not arrived.")
    assert post_ticket(client, payload).status_code == 201
    assert client.get("/v1/tickets", params={"solved": "false"}, headers=agent).json()["total"] == 1

    def deliver(*kinds: str) -> None:
        events = [
            {
                "source": payload["source"],
                "event_id": f"{payload['external_id']}-{kind}-{n}",
                "ticket_id": payload["external_id"],
                "kind": kind,
                "occurred_at": (datetime.now(UTC) - timedelta(minutes=10 - n)).isoformat(),
                "actor_type": "customer" if kind == "ticket_created" else "agent",
            }
            for n, kind in enumerate(kinds)
        ]
        response = deliver_events(client, events)
        assert response.status_code == 201, response.text

    # Its events come from the desk it lives in: solved there is solved here, reopened there is open again.
    deliver("ticket_created", "agent_reply", "solved")
    listed = client.get("/v1/tickets", headers=agent).json()["tickets"]
    assert [t["solved"] for t in listed] == [True]
    assert client.get("/v1/tickets", params={"solved": "false"}, headers=agent).json()["total"] == 0
    deliver("ticket_created", "agent_reply", "solved", "reopened")
    assert client.get("/v1/tickets", params={"solved": "false"}, headers=agent).json()["total"] == 1


def test_a_ticket_solved_here_and_reopened_in_its_system_is_back_in_the_queue(
    client: TestClient[Any], agent: Headers
) -> None:
    """Solved in the console (a resolved case), then the customer writes back and the ticket's own system reopens
    it: it is open again, whether or not that system had sent its own solved."""
    for name, kinds in (("with-solved", ("solved", "reopened")), ("reopen-only", ("reopened",))):
        payload = ticket_payload(external_id=f"RQ-{name}", subject="Refund missing", body="No refund yet.")
        ticket_id = post_ticket(client, payload).json()["ticket_id"]
        solved = client.post(f"/v1/tickets/{ticket_id}/solve", json={"resolution": "Refund sent."}, headers=agent)
        assert solved.status_code == 201, solved.text
        assert ticket_id not in {
            t["id"] for t in client.get("/v1/tickets", params={"solved": "false"}, headers=agent).json()["tickets"]
        }
        later = datetime.now(UTC) + timedelta(minutes=1)
        events = [
            {
                "source": payload["source"],
                "event_id": f"{name}-{n}",
                "ticket_id": payload["external_id"],
                "kind": kind,
                "occurred_at": (later + timedelta(seconds=n)).isoformat(),
                "actor_type": "customer" if kind == "reopened" else "agent",
            }
            for n, kind in enumerate(kinds)
        ]
        assert deliver_events(client, events).status_code == 201
        still_open = client.get("/v1/tickets", params={"solved": "false"}, headers=agent).json()["tickets"]
        assert ticket_id in {t["id"] for t in still_open}, name


def test_a_console_ticket_counts_in_the_kpis_through_its_events(client: TestClient[Any], agent: Headers) -> None:
    opened = client.post(
        "/v1/tickets",
        json={"subject": "Parcel missing", "body": "Marked delivered, nothing arrived.", "agent_id": "agent-ola"},
        headers=agent,
    )
    assert opened.status_code == 201, opened.text
    decision = opened.json()
    ticket = client.get(f"/v1/tickets/{decision['ticket_id']}", headers=agent).json()
    assert ticket["source"] == "console" and ticket["channel"] == "phone"
    now = datetime.now(UTC)
    period = {"from": (now - timedelta(hours=1)).isoformat(), "to": (now + timedelta(hours=1)).isoformat()}

    def overall() -> dict[str, Any]:
        return client.get("/v1/kpis", params={"group_by": "all", **period}, headers=agent).json()["groups"][0]

    assert overall()["tickets_created"] == 1 and overall()["tickets_solved"] == 0
    rerouted = client.post(
        f"/v1/tickets/{decision['ticket_id']}/reroute", json={"department": "billing_payments"}, headers=agent
    )
    assert rerouted.status_code == 201
    solved = client.post(
        f"/v1/tickets/{decision['ticket_id']}/solve",
        json={"resolution": "Reshipped.", "actions": ["pull-up-order"], "agent_id": "agent-ola"},
        headers=agent,
    )
    assert solved.status_code == 201
    figures = overall()
    # Created, moved once (a transfer), solved by the agent: counted under the department it ended in.
    assert figures["tickets_solved"] == 1 and figures["transfer_rate"] == 1.0 and figures["fcr_rate"] == 0.0
    by_department = client.get("/v1/kpis", params={"group_by": "department", **period}, headers=agent).json()
    assert [g["group"] for g in by_department["groups"]] == ["billing_payments"]
    by_agent = client.get("/v1/kpis", params={"group_by": "agent", **period}, headers=agent).json()
    assert [g["group"] for g in by_agent["groups"]] == ["agent-ola"]


def test_tickets_from_other_systems_get_no_console_events(client: TestClient[Any], agent: Headers) -> None:
    delivered = post_ticket(client, ticket_payload())
    solved = client.post(
        f"/v1/tickets/{delivered.json()['ticket_id']}/solve", json={"resolution": "Answered."}, headers=agent
    )
    assert solved.status_code == 201
    # Their own system sends their events; the console adds none that would count the ticket twice. This one's
    # system sends none at all: it has no KPIs here (not a ticket awaiting its first reply for ever).
    kpis = client.get("/v1/kpis", params={"group_by": "all", "from": "2000-01-01T00:00:00Z"}, headers=agent)
    assert kpis.json()["groups"] == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "validation_error"),
        ({"subject": " ", "body": ""}, "validation_error"),
        ({"body": "x", "channel": "pigeon"}, "validation_error"),
        ({"body": "x", "customer_ref": ""}, "validation_error"),
        ({"body": "x", "customer_ref": "   "}, "validation_error"),
        ({"body": "a\x00b"}, "validation_error"),
    ],
)
def test_bad_console_tickets_are_refused(client: TestClient[Any], agent: Headers, body: Any, code: str) -> None:
    response = client.post("/v1/tickets", json=body, headers=agent)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code
    assert client.get("/v1/tickets", headers=agent).json()["total"] == 0


def test_a_browser_offers_its_key_as_a_websocket_subprotocol(client: TestClient[Any], agent: Headers) -> None:
    key = agent["Authorization"].removeprefix("Bearer ")
    with client.websocket_connect("/v1/assist/live", subprotocols=["assistant.v1", f"bearer.{key}"]) as socket:
        assert socket.accepted_subprotocol == "assistant.v1"
        socket.send_json({"type": "text", "text": "my parcel never arrived"})
        message = socket.receive_json()
        assert message["type"] == "suggestions" and message["suggestions"]["query"]["intent"]
    with (
        pytest.raises(Exception),  # noqa: B017 - the test client raises on a refused handshake
        client.websocket_connect("/v1/assist/live", subprotocols=["assistant.v1", "bearer.sda_not-a-key"]) as socket,
    ):
        socket.receive_json()


def test_a_bad_live_message_gets_an_error_and_changes_nothing(client: TestClient[Any], agent: Headers) -> None:
    ticket_id = post_ticket(client, ticket_payload(subject="Parcel lost", body="It never came.")).json()["ticket_id"]
    bad = [
        ({"type": "text"}, "invalid_message"),  # no text
        ({"type": ["text"], "text": "x"}, "invalid_message"),
        ({"type": "text", "text": "x", "cases": -1}, "invalid_message"),
        ({"type": "text", "text": "x", "faq": "3"}, "invalid_message"),
        ({"type": "text", "text": "x", "actions": True}, "invalid_message"),
        ({"type": "text", "text": "x", "ticket_id": "abc"}, "invalid_message"),
        ({"type": "text", "text": "x", "ticket_id": 999_999}, "ticket_not_found"),
        ({"type": "text", "text": "charged \x00 twice"}, "invalid_message"),
        ({"type": "append", "text": "charged twice \ud83d"}, "invalid_message"),  # half an emoji's escape pair
    ]
    with client.websocket_connect("/v1/assist/live", headers=agent) as socket:
        for message, code in bad:
            socket.send_text(json.dumps(message))  # ASCII escapes, as a client cutting an emoji in half sends them
            answer = socket.receive_json()
            assert (answer["type"], answer["error"]["code"]) == ("error", code), message
        socket.send_json({"type": "text", "text": "my parcel never arrived", "cases": 1, "ticket_id": ticket_id})
        answer = socket.receive_json()
        assert (answer["type"], answer["version"]) == ("suggestions", 1), answer  # the bad ones changed nothing
        assert answer["suggestions"]["ticket_id"] == ticket_id and len(answer["suggestions"]["cases"]) <= 1
        socket.send_json({"type": "reset"})
        socket.send_json({"type": "text", "text": "I forgot my password"})
        answer = socket.receive_json()
        assert answer["suggestions"]["ticket_id"] is None  # a reset conversation is about no ticket


def test_text_filters_find_percent_and_underscore_as_typed(
    client: TestClient[Any], agent: Headers, make_key: Callable[[str], Headers]
) -> None:
    assert post_ticket(client, ticket_payload(subject="Parcel lost", body="The parcel never came.")).status_code == 201
    assert post_ticket(client, ticket_payload(subject="Code 10%_OFF", body="It was refused.")).status_code == 201
    admin = make_key("admin")
    for question in ("Is 10%_OFF still valid?", "Where is my parcel?"):
        entry = {"question": question, "answer": "See the offers page."}
        assert client.post("/v1/faq", json=entry, headers=admin).status_code == 201
    for typed in ("%", "_", "10%_off"):  # characters to find, not wildcards that match everything
        tickets = client.get("/v1/tickets", params={"text": typed}, headers=agent).json()
        assert [t["subject"] for t in tickets["tickets"]] == ["Code 10%_OFF"], typed
        entries = client.get("/v1/faq", params={"text": typed}, headers=admin).json()
        assert [e["question"] for e in entries["entries"]] == ["Is 10%_OFF still valid?"], typed

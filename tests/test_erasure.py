"""Erasure: after one call, nothing about the customer can be found in the database, the index or the API."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import func, inspect, select, text
from sqlmodel import col

from assistant.db import make_engine
from assistant.insights.models import TicketVector
from assistant.security import signed_headers
from assistant.settings import Settings
from tests.support import WEBHOOK_SECRET, WEBHOOK_SOURCE, deliver_events, post_ticket, ticket_payload

Headers = dict[str, str]
MARKER = "Quokkaflux"  # a word that appears nowhere else


def test_erasure_leaves_nothing_findable(
    client: TestClient[Any], settings: Settings, make_key: Callable[[str], Headers]
) -> None:
    admin, agent = make_key("admin"), make_key("agent")
    ids = []
    for n in range(2):
        payload = ticket_payload(
            external_id=f"ERASE-{n}",
            subject=f"{MARKER} blender broken",
            body=f"My {MARKER} blender stopped working. Reach me at erin.{n}@example.com.",
            customer_ref="cust-erase-me",
        )
        response = post_ticket(client, payload)
        assert response.status_code == 201
        ids.append(response.json()["ticket_id"])
    solved = client.post(
        f"/v1/tickets/{ids[0]}/solve",
        json={"resolution": f"Replaced the {MARKER} blender.", "actions": ["offer-replacement"]},
        headers=agent,
    )
    assert solved.status_code == 201
    other = post_ticket(
        client, ticket_payload(external_id="KEEP-1", subject="Blender broken", customer_ref="cust-keep")
    )
    kept_id = other.json()["ticket_id"]
    client.post(f"/v1/tickets/{kept_id}/solve", json={"resolution": "Repaired.", "actions": ["repair"]}, headers=agent)
    events = [
        {
            "source": WEBHOOK_SOURCE,
            "event_id": f"erase-{n}",
            "ticket_id": "ERASE-0",
            "kind": kind,
            "occurred_at": "2026-11-16T09:00:00Z",
            "actor_type": actor,
            "actor_id": actor_id,
            "text": f"{MARKER} note {n}",
        }
        for n, (kind, actor, actor_id) in enumerate(
            [("customer_reply", "customer", "cust-erase-me"), ("agent_reply", "agent", "agent-7")]
        )
    ]
    body = json.dumps({"events": events}).encode()
    assert (
        client.post("/v1/webhooks/events", content=body, headers=signed_headers(WEBHOOK_SECRET, body)).status_code
        == 201
    )
    surveys = [
        # Their own response (by reference) and one on their ticket without a reference; both carry text.
        {
            "source": WEBHOOK_SOURCE,
            "response_id": "erase-s1",
            "responded_at": "2026-11-17T09:00:00Z",
            "csat": 2,
            "customer_ref": "cust-erase-me",
            "comment": f"{MARKER} still broken",
        },
        {
            "source": WEBHOOK_SOURCE,
            "response_id": "erase-s2",
            "responded_at": "2026-11-17T10:00:00Z",
            "csat": 4,
            "ticket_id": "ERASE-1",
            "comment": f"{MARKER} fine now",
        },
        {  # both: by reference and on their ticket, and counted once
            "source": WEBHOOK_SOURCE,
            "response_id": "erase-s3",
            "responded_at": "2026-11-17T11:00:00Z",
            "csat": 5,
            "ticket_id": "ERASE-1",
            "customer_ref": "cust-erase-me",
            "comment": f"{MARKER} thanks",
        },
    ]
    body = json.dumps({"surveys": surveys}).encode()
    assert (
        client.post("/v1/webhooks/surveys", content=body, headers=signed_headers(WEBHOOK_SECRET, body)).status_code
        == 201
    )
    portal = make_key("portal")
    searched = client.get(
        "/v1/faq/search", params={"q": f"{MARKER} blender", "customer_ref": "cust-erase-me"}, headers=portal
    )
    assert searched.status_code == 200
    for n in range(8):  # enough tickets for a gap report, which keeps a vector of each ticket's text
        post_ticket(client, ticket_payload(external_id=f"KEEP-{n + 2}", customer_ref="cust-keep"))
    period = {"from": "2026-11-19T00:00:00Z", "to": "2026-11-21T00:00:00Z"}
    assert client.get("/v1/insights/self-service-gaps", params=period, headers=admin).status_code == 200
    assert vectors_of(settings, ids) == 2
    csat_before = survey_kpis(client, admin)
    before = client.post("/v1/suggestions", json={"text": f"{MARKER} blender broken"}, headers=agent).json()
    assert MARKER in json.dumps(before["cases"])

    response = client.delete("/v1/customers/cust-erase-me", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "customer_ref": "cust-erase-me",
        "tickets": 2,
        "resolved_cases": 1,
        "events_scrubbed": 2,
        "survey_responses_scrubbed": 3,
        "portal_searches_scrubbed": 1,
    }

    for ticket_id in ids:
        assert client.get(f"/v1/tickets/{ticket_id}", headers=agent).status_code == 404
    after = client.post("/v1/suggestions", json={"text": f"{MARKER} blender broken", "cases": 20}, headers=agent).json()
    assert MARKER not in json.dumps(after) and "erin." not in json.dumps(after)
    assert [c["id"] for c in after["cases"]] != [] and all(c["id"] != solved.json()["id"] for c in after["cases"])
    assert client.get(f"/v1/tickets/{kept_id}", headers=agent).status_code == 200
    assert vectors_of(settings, ids) == 0 and vectors_of(settings, [kept_id]) == 1
    # Survey scores stay, so past CSAT does not move.
    csat_after = survey_kpis(client, admin)
    assert csat_after == csat_before and csat_before["survey_responses"] == 3
    # The survey tool delivers the same responses again (a retry, or a re-import), one with a changed score:
    # the score changes, the comment and the reference stay gone.
    surveys[0]["csat"] = 3
    body = json.dumps({"surveys": surveys}).encode()
    redelivered = client.post("/v1/webhooks/surveys", content=body, headers=signed_headers(WEBHOOK_SECRET, body))
    assert redelivered.status_code == 200 and redelivered.json()["updated"] == 1, redelivered.text

    # No text column of any table holds the marker, the e-mail or the customer reference any more.
    engine = make_engine(settings.resolved_database_url)
    with engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            columns = [
                c["name"]
                for c in inspect(connection).get_columns(table)
                if "CHAR" in str(c["type"]).upper()
                or "TEXT" in str(c["type"]).upper()
                or "JSON" in str(c["type"]).upper()
            ]
            for column in columns:
                for needle in (MARKER, "erin.", "cust-erase-me"):
                    found = connection.execute(
                        text(f'SELECT COUNT(*) FROM "{table}" WHERE CAST("{column}" AS TEXT) LIKE :needle'),
                        {"needle": f"%{needle}%"},
                    ).scalar()
                    assert found == 0, (table, column, needle)
    engine.dispose()
    again = client.delete("/v1/customers/cust-erase-me", headers=admin).json()
    assert again["tickets"] == 0 and again["resolved_cases"] == 0
    assert client.delete("/v1/customers/cust-erase-me", headers=agent).status_code == 403


def vectors_of(settings: Settings, ticket_ids: list[int]) -> int:
    """How many of these tickets the gap report keeps a vector of: derived from their text, so erased with it."""
    engine = make_engine(settings.resolved_database_url)
    with engine.connect() as connection:
        count = connection.execute(
            select(func.count()).select_from(TicketVector).where(col(TicketVector.ticket_id).in_(ticket_ids))
        ).scalar_one()
    engine.dispose()
    return int(count)


def survey_kpis(client: TestClient[Any], headers: Headers) -> dict[str, Any]:
    period = {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z", "group_by": "all"}
    response = client.get("/v1/kpis", params=period, headers=headers)
    assert response.status_code == 200, response.text
    names = ("survey_responses", "csat_responses", "csat_rate")
    return {name: response.json()["groups"][0][name] for name in names}


def test_logs_are_masked(caplog: Any) -> None:
    import logging

    from assistant.app import PiiMaskingFilter

    logger = logging.getLogger("assistant.test-masking")
    logger.addFilter(PiiMaskingFilter())
    with caplog.at_level(logging.INFO, logger="assistant.test-masking"):
        logger.info("could not route ticket from %s, card %s", "jane.doe@example.com", "4111 1111 1111 1111")
    assert "jane.doe" not in caplog.text and "4111" not in caplog.text and "[EMAIL]" in caplog.text


def test_erased_tickets_keep_their_timings_through_a_recomputation(
    client: TestClient[Any], settings: Settings, make_key: Callable[[str], Headers]
) -> None:
    """Erasure deletes the ticket, whose created time, language and routed department the timings were worked out
    from; the timings themselves hold no customer data and stay, and a later recomputation (another event on
    the ticket, a schedule change, ``assistant recompute-timings`` after an upgrade) must not change them."""
    from assistant.db import session_scope
    from assistant.events.service import recompute_timings, timed_tickets
    from assistant.schedules.service import ScheduleBook

    def deliver(external_id: str) -> None:
        payload = ticket_payload(external_id=external_id, customer_ref="cust-gone", created_at="2026-11-16T08:00:00Z")
        assert post_ticket(client, payload).status_code == 201

    deliver("GONE-1")
    reply = {
        "source": WEBHOOK_SOURCE,
        "event_id": "gone-reply",
        "ticket_id": "GONE-1",
        "kind": "agent_reply",
        "occurred_at": "2026-11-16T10:00:00Z",
        "actor_type": "agent",
        "actor_id": "agent-7",
    }
    assert deliver_events(client, [reply]).status_code == 201
    deliver("GONE-2")  # still awaiting its first reply
    # An outbound ticket its events alone time: the agent wrote first, the ticket came later with no created time.
    outbound = [
        dict(reply, event_id=f"gone-out-{n}", ticket_id="GONE-3", kind=kind, occurred_at=at, actor_type=actor)
        for n, (kind, at, actor) in enumerate(
            [
                ("agent_reply", "2026-11-16T09:00:00Z", "agent"),
                ("customer_reply", "2026-11-16T10:00:00Z", "customer"),
                ("agent_reply", "2026-11-16T11:00:00Z", "agent"),
            ]
        )
    ]
    assert deliver_events(client, outbound).status_code == 201
    unstamped = {
        k: v for k, v in ticket_payload(external_id="GONE-3", customer_ref="cust-gone").items() if k != "created_at"
    }
    assert post_ticket(client, unstamped).status_code == 201
    before = timings_of(settings, ["GONE-1", "GONE-2", "GONE-3"])
    assert before["GONE-1"]["frt_seconds"] == 7200 and before["GONE-1"]["language"] == "en"
    assert before["GONE-2"]["first_reply_at"] is None
    assert before["GONE-3"]["frt_seconds"] == 3600 and before["GONE-3"]["ticket_created_at"] is None

    assert client.delete("/v1/customers/cust-gone", headers=make_key("admin")).status_code == 200
    engine = make_engine(settings.resolved_database_url)
    with session_scope(engine) as session:
        recompute_timings(session, timed_tickets(session), schedules=ScheduleBook(engine))
        session.commit()
    engine.dispose()
    assert timings_of(settings, ["GONE-1", "GONE-2", "GONE-3"]) == before


def timings_of(settings: Settings, external_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The stored timings of these tickets, without the time they were last worked out."""
    from assistant.events.models import TicketTiming

    engine = make_engine(settings.resolved_database_url)
    with engine.connect() as connection:
        rows = (
            connection.execute(select(TicketTiming).where(col(TicketTiming.ticket_id).in_(external_ids)))
            .mappings()
            .all()
        )
    engine.dispose()
    return {row["ticket_id"]: {k: v for k, v in row.items() if k not in ("id", "updated_at")} for row in rows}


def test_a_reference_with_a_slash_is_erased_by_query(
    client: TestClient[Any], make_key: Callable[[str], Headers]
) -> None:
    """A path cannot carry "acme/77" as it is (its %2F is read as a separator); the query can."""
    assert post_ticket(client, ticket_payload(external_id="SLASH-1", customer_ref="acme/77")).status_code == 201
    admin = make_key("admin")
    assert client.delete("/v1/customers/acme%2F77", headers=admin).status_code == 404
    erased = client.delete("/v1/customers", params={"customer_ref": "acme/77"}, headers=admin)
    assert erased.status_code == 200 and erased.json()["tickets"] == 1, erased.text
    assert client.delete("/v1/customers", headers=admin).status_code == 400  # no reference: nothing erased
    assert (
        client.delete("/v1/customers", params={"customer_ref": "acme/77"}, headers=make_key("agent")).status_code == 403
    )

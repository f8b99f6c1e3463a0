"""Customer-experience insights through the real app, model and database (SQLite and PostgreSQL):
the self-service gap report, the drivers of satisfaction, and deflection."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from litestar.testing import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from assistant.db import make_engine
from assistant.indexing.service import TextEncoder
from assistant.insights.deflection import PortalSearchRecord, SearchLog
from assistant.insights.gaps import LANGUAGE_MIN_TICKETS, gap_report, language_groups, ticket_vectors
from assistant.insights.models import TicketVector
from assistant.security import signed_headers
from assistant.tickets.models import Ticket
from bench.drivers import ALWAYS_OPEN, TRUTH, synthetic_desk
from knowledge import OnnxEmbedder
from tests.support import WEBHOOK_SECRET, WEBHOOK_SOURCE, post_ticket, ticket_payload

Headers = dict[str, str]

# Three topics a bank's desk hears; the FAQ answers the first two, nobody has written about the third.
CARD_ARRIVAL = [
    "My new card still has not arrived, when will it come?",
    "I ordered a card two weeks ago and it never showed up in the post",
    "How long does delivery of a new bank card take?",
    "Still waiting for my debit card to be delivered",
    "The card you sent me has not arrived yet",
    "When should I expect my replacement card in the mail?",
    "My card was supposed to arrive last week but nothing came",
    "Card delivery is taking forever, where is my card?",
]
PASSWORD = [
    "I forgot my password and cannot log in to the app",
    "How do I reset my online banking password?",
    "The app says my password is wrong, how can I change it?",
    "Locked out of my account after too many password attempts",
    "I need a new password for internet banking",
    "Password reset link is not working for my login",
    "Can't sign in, I don't remember my password",
    "How can I change the password of my banking app?",
]
CRYPTO = [
    "Can I buy bitcoin with my account?",
    "Do you support cryptocurrency purchases like ethereum?",
    "How do I sell my crypto holdings through the bank?",
    "Is it possible to transfer bitcoin to an external wallet?",
    "What are your fees for buying cryptocurrency?",
    "I want to invest in crypto, does the app allow that?",
    "Can I exchange my euros for bitcoin in the app?",
    "Why is crypto trading not available in my country?",
    "Where can I see the value of my bitcoin?",
    "How do I withdraw cryptocurrency from my account? Write to me at jane.doe@example.com",
    "Can I pay with bitcoin using my card?",
    "Is ethereum staking offered by your bank?",
]
FAQ = [
    {"question": "Where is my new card?", "answer": "New cards arrive by post within 5 to 7 working days of ordering."},
    {
        "question": "How do I reset my password?",
        "answer": "Tap 'Forgot password' on the login screen and follow the link.",
    },
]
PERIOD = {"from": "2026-11-19T00:00:00Z", "to": "2026-11-21T00:00:00Z"}


@pytest.fixture
def admin(client: TestClient[Any], make_key: Callable[[str], Headers]) -> Headers:
    return make_key("admin")


def test_the_gap_report_puts_the_unanswered_topic_first(client: TestClient[Any], admin: Headers) -> None:
    for entry in FAQ:
        assert client.post("/v1/faq", json=entry, headers=admin).status_code == 201
    for n, body in enumerate(CARD_ARRIVAL + PASSWORD + CRYPTO):
        payload = ticket_payload(external_id=f"g{n}", subject="", body=body, customer_ref=f"c{n}")
        assert post_ticket(client, payload).status_code in (200, 201)
    response = client.get("/v1/insights/self-service-gaps", params={**PERIOD, "top": 5}, headers=admin)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["tickets"] == 28 and report["faq_entries"] == 2
    first = report["clusters"][0]
    crypto_ids = {f"g{n}" for n in range(len(CARD_ARRIVAL) + len(PASSWORD), 28)}
    shown = {example["external_id"] for example in first["examples"]}
    # The crypto questions: the largest topic, and the one no FAQ entry is close to.
    assert shown <= crypto_ids, first
    assert first["size"] >= 8 and first["rank"] == 1
    covered = [c for c in report["clusters"] if c["best_faq"] and c["faq_coverage"] > first["faq_coverage"]]
    assert covered, "the card and password topics are covered better than crypto"
    # Examples are masked like all other text shown.
    everything = json.dumps(report)
    assert "jane.doe@example.com" not in everything
    assert all(len(c["examples"]) <= 3 for c in report["clusters"])
    assert report["clusters_found"] >= 2 and report["languages"][0]["silhouettes"]
    # The score counts the tickets no entry answers, weighted by how alike the cluster's tickets are.
    for c in report["clusters"]:
        assert 0 < c["cohesion"] <= 1
        assert c["score"] == pytest.approx(c["size"] * (1 - c["faq_coverage"]) * c["cohesion"], abs=0.05)
        # Ranked by it, a cluster beside one ranked above it for less.
        if c["beside_rank"] is None:
            assert c["ranking_score"] == c["score"]
        else:
            assert c["beside_rank"] < c["rank"] and c["ranking_score"] <= 0.75 * c["score"] + 0.01
    assert [c["ranking_score"] for c in report["clusters"]] == sorted(
        (c["ranking_score"] for c in report["clusters"]), reverse=True
    )


def test_the_gap_report_refuses_a_period_with_too_few_tickets(client: TestClient[Any], admin: Headers) -> None:
    response = client.get("/v1/insights/self-service-gaps", params=PERIOD, headers=admin)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_few_tickets"
    bad = client.get("/v1/insights/self-service-gaps", params={"from": "2026-11-19T00:00:00"}, headers=admin)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_period"


def deliver(client: TestClient[Any], path: str, key: str, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 200):  # the test app's body limit is 64 KiB
        body = json.dumps({key: items[start : start + 200]}).encode()
        response = client.post(path, content=body, headers=signed_headers(WEBHOOK_SECRET, body))
        assert response.status_code == 201, response.text


def test_drivers_recover_known_effects_and_refuse_too_few(client: TestClient[Any], admin: Headers) -> None:
    assert client.put("/v1/schedules/*", json=ALWAYS_OPEN, headers=admin).status_code == 200
    events, surveys = synthetic_desk(7, 250, source=WEBHOOK_SOURCE)
    deliver(client, "/v1/webhooks/events", "events", events)
    period = {"from": "2026-10-01T00:00:00Z", "to": "2026-11-01T00:00:00Z"}
    few = client.get("/v1/insights/drivers", params=period, headers=admin)
    assert few.status_code == 400 and few.json()["error"]["code"] == "too_few_responses"
    assert "Too few CSAT responses" in few.json()["error"]["message"]
    deliver(client, "/v1/webhooks/surveys", "surveys", surveys)
    response = client.get("/v1/insights/drivers", params=period, headers=admin)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["responses_used"] == 250 and report["target"] == "csat"
    found = {d["term"]: d for d in report["drivers"]}
    # Seed 7 is fixed, so this is deterministic: each main effect lies inside its 95% interval.
    for term in ("fcr", "transferred", "frt_hours"):
        assert found[term]["ci_low"] <= TRUTH[term] <= found[term]["ci_high"], found[term]
        assert found[term]["significant"]
    assert found["transferred"]["summary"].startswith("A transfer lowers CSAT by")
    assert sorted(d["rank"] for d in report["drivers"]) == list(range(1, len(report["drivers"]) + 1))
    impacts = [d["impact"] for d in report["drivers"]]
    assert impacts == sorted(impacts, reverse=True)
    nps = client.get("/v1/insights/drivers", params={**period, "target": "nps"}, headers=admin)
    assert nps.status_code == 400 and nps.json()["error"]["code"] == "too_few_responses"  # no NPS asked
    bad = client.get("/v1/insights/drivers", params={**period, "target": "mood"}, headers=admin)
    assert bad.status_code == 400


def test_a_rare_channel_joins_the_reference_instead_of_breaking_the_intervals(
    client: TestClient[Any], admin: Headers
) -> None:
    assert client.put("/v1/schedules/*", json=ALWAYS_OPEN, headers=admin).status_code == 200
    events, surveys = synthetic_desk(7, 250, source=WEBHOOK_SOURCE)
    # One ticket on a channel nobody else uses: alone it would fit its own score exactly (no error left).
    first = next(e for e in events if e["kind"] == "ticket_created")
    first["channel"] = "social"
    deliver(client, "/v1/webhooks/events", "events", events)
    deliver(client, "/v1/webhooks/surveys", "surveys", surveys)
    period = {"from": "2026-10-01T00:00:00Z", "to": "2026-11-01T00:00:00Z"}
    response = client.get("/v1/insights/drivers", params=period, headers=admin)
    assert response.status_code == 200, response.text
    drivers = response.json()["drivers"]
    assert "channel=other" not in {d["term"] for d in drivers}
    assert all(isinstance(d["ci_low"], float) and isinstance(d["ci_high"], float) for d in drivers)
    channels = [d for d in drivers if d["term"].startswith("channel=")]
    assert channels and all("and rare channel values" in d["unit"] for d in channels)


def at(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def test_deflection_counts_searches_not_followed_by_a_ticket(
    client: TestClient[Any], admin: Headers, settings: Any, make_key: Callable[[str], Headers]
) -> None:
    engine = make_engine(settings.resolved_database_url)
    searches = [
        ("cust-a", "2026-11-16T10:00:00Z", 3),  # a ticket 23 h later: not deflected
        ("cust-b", "2026-11-16T11:00:00Z", 2),  # only a ticket from before the search: deflected
        (None, "2026-11-16T12:00:00Z", 0),  # nobody to follow: counted, not judged
        ("cust-c", "2026-11-17T09:00:00Z", 1),  # a ticket 97 h later: deflected in a 72 h window, not in 120 h
    ]
    search_log = SearchLog(engine).start()
    for customer, moment, results in searches:
        search_log.record(PortalSearchRecord("how do I", customer, results, None, None, at(moment)))
    search_log.stop()  # commits what it was handed first
    engine.dispose()
    for n, (customer, created) in enumerate(
        [("cust-a", "2026-11-17T09:00:00Z"), ("cust-b", "2026-11-15T09:00:00Z"), ("cust-c", "2026-11-21T10:00:00Z")]
    ):
        payload = ticket_payload(external_id=f"d{n}", customer_ref=customer, created_at=created)
        assert post_ticket(client, payload).status_code in (200, 201)
    period = {"from": "2026-11-16T00:00:00Z", "to": "2026-11-18T00:00:00Z"}
    report = client.get("/v1/insights/deflection", params=period, headers=admin).json()
    assert report["window_hours"] == 72.0
    day16, day17 = report["groups"]
    assert (day16["period"], day16["searches"], day16["attributed"], day16["judged"]) == ("2026-11-16", 3, 2, 2)
    assert (day16["deflected"], day16["deflection_rate"], day16["no_answer"]) == (1, 0.5, 1)
    assert (day17["period"], day17["deflected"], day17["deflection_rate"]) == ("2026-11-17", 1, 1.0)
    assert report["total"]["judged"] == 3 and report["total"]["deflection_rate"] == pytest.approx(2 / 3, abs=1e-4)
    wider = client.get(
        "/v1/insights/deflection", params={**period, "window_hours": 120, "group_by": "all"}, headers=admin
    )
    assert wider.json()["groups"][0]["deflected"] == 1  # only cust-b

    # A live portal search is logged after its answer, with the query masked; its window has not passed yet.
    portal = make_key("portal")
    search = client.get(
        "/v1/faq/search",
        params={"q": "card lost, reach me at jane.doe@example.com", "customer_ref": "cust-z"},
        headers=portal,
    )
    assert search.status_code == 200
    now = datetime.now(UTC)
    live = client.get(
        "/v1/insights/deflection",
        params={
            "from": (now - timedelta(hours=1)).isoformat(),
            "to": (now + timedelta(hours=1)).isoformat(),
            "group_by": "all",
        },
        headers=admin,
    ).json()["total"]
    assert (live["searches"], live["attributed"], live["pending"], live["deflection_rate"]) == (1, 1, 1, None)
    engine = make_engine(settings.resolved_database_url)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT query FROM portal_searches WHERE customer_ref = 'cust-z'")).scalar()
    engine.dispose()
    assert stored is not None and "jane.doe@example.com" not in stored
    bad = client.get("/v1/insights/deflection", params={"group_by": "agent"}, headers=admin)
    assert bad.status_code == 400


def test_the_insights_commands(
    settings: Any, client: TestClient[Any], make_key: Callable[[str], Headers], monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.cli import main

    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", settings.resolved_database_url)
    runner = CliRunner()
    few = runner.invoke(main, ["insights", "drivers", "--from", "2026-10-01", "--to", "2026-11-01"])
    assert few.exit_code != 0 and "Too few CSAT responses" in few.output
    empty = runner.invoke(main, ["insights", "gaps", "--from", "2026-10-01", "--to", "2026-11-01"])
    assert empty.exit_code != 0 and "needs at least 10" in empty.output
    flow = runner.invoke(main, ["insights", "deflection", "--from", "2026-10-01", "--to", "2026-11-01"])
    assert flow.exit_code == 0, flow.output
    assert flow.output.splitlines()[-1].split()[:2] == ["all", "0"]
    for n, body in enumerate(CARD_ARRIVAL + CRYPTO):
        assert post_ticket(client, ticket_payload(external_id=f"k{n}", subject="", body=body)).status_code == 201
    faq = {"question": "When will my new card arrive?", "answer": "Cards arrive within 5 working days by post."}
    assert client.post("/v1/faq", json=faq, headers=make_key("admin")).status_code == 201
    table = runner.invoke(main, ["insights", "gaps", "--from", "2026-11-19", "--to", "2026-11-21", "--top", "2"])
    assert table.exit_code == 0, table.output
    assert "20 tickets (20 analysed)" in table.output and "jane.doe@example.com" not in table.output
    # Each topic names the entry that comes closest, so a lead can tell a gap from an entry that misses its mark.
    assert table.output.count("closest FAQ #") == 2 and "When will my new card arrive? (similarity" in table.output


def test_each_language_is_clustered_apart_and_rare_ones_join_the_largest() -> None:
    languages = ["en"] * 120 + ["de"] * LANGUAGE_MIN_TICKETS + ["fr"] * 3 + [None] * LANGUAGE_MIN_TICKETS
    groups = language_groups(languages)
    assert list(groups) == ["en", "de"]
    assert sorted({languages[i] for i in groups["en"]}, key=str) == [None, "en", "fr"]
    assert {languages[i] for i in groups["de"]} == {"de"} and len(groups["de"]) == LANGUAGE_MIN_TICKETS
    assert sum(len(g) for g in groups.values()) == len(languages)


def test_the_gap_report_keeps_each_tickets_vector_for_the_next_report(engine: Engine, embedder: OnnxEmbedder) -> None:
    texts = CARD_ARRIVAL + PASSWORD + CRYPTO
    with Session(engine) as session:
        session.add_all(
            Ticket(source="desk", external_id=f"v{n}", body=body, created_at=at("2026-11-20T10:00:00Z"))
            for n, body in enumerate(texts)
        )
        session.commit()
    embedded: list[str] = []

    def encoder(model_name: str) -> TextEncoder:
        def encode(batch: Sequence[str]) -> np.ndarray:
            embedded.extend(batch)
            return embedder.encode(batch)

        return TextEncoder(model_name=model_name, encode=encode)

    def report(model_name: str = embedder.model_name) -> dict[str, Any]:
        embedded.clear()
        with Session(engine) as session:
            return gap_report(
                session, start=at(PERIOD["from"]), end=at(PERIOD["to"]), encoder=encoder(model_name), top=50
            )

    def kept() -> dict[int, tuple[str, str]]:
        with Session(engine) as session:
            rows = session.exec(select(TicketVector.ticket_id, TicketVector.model, TicketVector.text_digest)).all()
        return {ticket_id: (model, digest) for ticket_id, model, digest in rows}

    first = report()
    assert sorted(embedded) == sorted(texts) and len(kept()) == len(texts)
    # The next report over the same tickets embeds nothing and finds the same clusters.
    second = report()
    assert embedded == [] and second["clusters"] == first["clusters"]
    # A ticket whose text changed is embedded again; a ticket deleted takes its vector with it.
    with Session(engine) as session:
        changed = session.exec(select(Ticket).where(Ticket.external_id == "v0")).one()
        changed.body = "My new card has not arrived, write to [email]"
        gone = session.exec(select(Ticket).where(Ticket.external_id == "v1")).one()
        changed_id, gone_id = changed.id, gone.id
        session.add(changed)
        session.delete(gone)
        session.commit()
    before = kept()
    report()
    assert embedded == ["My new card has not arrived, write to [email]"]
    after = kept()
    assert gone_id not in after and after[changed_id] != before[changed_id]
    # Vectors of another model are no use: all embedded again, and kept in their place.
    report("another-model")
    assert len(embedded) == len(texts) - 1 and {model for model, _ in kept().values()} == {"another-model"}
    # A vector is kept only where its ticket still has the text it was made from when written: on SQLite an
    # erased ticket's id goes to the next new ticket, which must not inherit the erased customer's vector.
    with Session(engine) as session:
        vectors = ticket_vectors(
            session, [changed_id], ["the erased customer's words"], encoder(embedder.model_name), text_chars=2_000
        )
    assert vectors.shape == (1, 384) and changed_id not in kept()

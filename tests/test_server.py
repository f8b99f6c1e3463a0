"""The real server as a new user starts it: `assistant serve` on 127.0.0.1 with the demo defaults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from assistant.security import signed_headers
from tests.servers import demo_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("server-data")
    with demo_server(data_dir) as base:
        yield base, data_dir


def test_fresh_start_trains_the_demo_and_routes_a_signed_ticket(server: tuple[str, Path]) -> None:
    base, data_dir = server
    credentials = json.loads((data_dir / "demo-credentials.json").read_text())
    assert (data_dir / "assistant.db").is_file()
    assert (data_dir / "classifier" / "CURRENT").is_file()

    body = json.dumps(
        {
            "source": credentials["webhook_source"],
            "external_id": "ZD-1001",
            "event_id": "1",
            "subject": "Charged twice",
            "body": "My card statement shows two charges of 49.99 for order #A10234.",
            "channel": "email",
            "customer_ref": "cust-9",
        }
    ).encode()
    response = httpx.post(
        f"{base}/v1/webhooks/tickets", content=body, headers=signed_headers(credentials["webhook_secret"], body)
    )
    assert response.status_code == 201, response.text
    assert response.json()["department"] == "billing_payments"

    auth = {"Authorization": f"Bearer {credentials['api_key']}"}
    ticket = httpx.get(f"{base}/v1/tickets/{response.json()['ticket_id']}", headers=auth)
    assert ticket.status_code == 200 and ticket.json()["external_id"] == "ZD-1001"
    routed = httpx.post(f"{base}/v1/route", json={"text": "how do I reset my password"}, headers=auth)
    assert routed.json()["department"] == "account_access"


def test_demo_knowledge_answers_the_portal_and_agents(server: tuple[str, Path]) -> None:
    base, data_dir = server
    credentials = json.loads((data_dir / "demo-credentials.json").read_text())
    auth = {"Authorization": f"Bearer {credentials['api_key']}"}
    results = httpx.get(
        f"{base}/v1/faq/search", params={"q": "how long do I have to send something back"}, headers=auth
    )
    assert results.status_code == 200 and results.json()["results"], results.text
    assert "return" in results.json()["results"][0]["question"].lower()

    suggestions = httpx.post(
        f"{base}/v1/suggestions", json={"text": "I was charged twice for my order"}, headers=auth
    ).json()
    assert suggestions["cases"] and suggestions["actions"] and suggestions["faq"]
    assert suggestions["query"]["department"] == "billing_payments"
    # The demo's historical cases carry fake PII; it was masked on import.
    everything = httpx.post(
        f"{base}/v1/suggestions", json={"text": "my e-mail and phone number", "cases": 20}, headers=auth
    ).text
    assert "@example.com" not in everything and "4111 1111" not in everything


def test_live_suggestions_over_a_real_websocket(server: tuple[str, Path]) -> None:
    base, data_dir = server
    credentials = json.loads((data_dir / "demo-credentials.json").read_text())
    url = base.replace("http://", "ws://") + "/v1/assist/live"
    auth = {"Authorization": f"Bearer {credentials['api_key']}"}

    # Refused at the handshake with the status and error body every other route gives.
    for headers, status, code in (
        ({}, 401, "missing_api_key"),
        ({"Authorization": "Bearer sda_not-a-key"}, 401, "invalid_api_key"),
    ):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, additional_headers=headers, open_timeout=10).close()
        assert refused.value.response.status_code == status
        assert json.loads(refused.value.response.body)["error"]["code"] == code

    with connect(url, additional_headers=auth, open_timeout=10) as socket:
        # Typed fast, as a conversation grows: only the newest text is answered.
        socket.send(json.dumps({"type": "text", "text": "Hi, I ordered a kettle"}))
        socket.send(json.dumps({"type": "append", "text": "it arrived broken, the lid is cracked"}))
        socket.send(json.dumps({"type": "append", "text": "I would like my money back"}))
        first = json.loads(socket.recv(timeout=20))
        assert first["type"] == "suggestions" and first["version"] == 3, first
        assert first["suggestions"]["cases"] and first["suggestions"]["actions"]

        socket.send("not json")
        error = json.loads(socket.recv(timeout=20))
        assert error["type"] == "error" and error["error"]["code"] == "malformed_json"

        socket.send(json.dumps({"type": "text", "text": "I forgot my password and cannot log in", "cases": 2}))
        second = json.loads(socket.recv(timeout=20))
        assert second["version"] == 4 and len(second["suggestions"]["cases"]) <= 2
        assert second["suggestions"]["query"]["department"] == "account_access"


def test_the_demo_desk_history_fills_the_gap_report_and_leaves_the_queue_to_open_tickets(
    server: tuple[str, Path],
) -> None:
    base, data_dir = server
    credentials = json.loads((data_dir / "demo-credentials.json").read_text())
    auth = {"Authorization": f"Bearer {credentials['api_key']}"}
    everything = httpx.get(f"{base}/v1/tickets", params={"limit": 1}, headers=auth).json()["total"]
    still_open = httpx.get(f"{base}/v1/tickets", params={"solved": "false", "limit": 200}, headers=auth).json()
    # Eight weeks of the desk's tickets, nearly all solved by now, and the inbox's dozen new ones.
    assert everything > 2_000 and 12 <= still_open["total"] < everything / 10
    assert {"DEMO-2001", "DEMO-2012"} <= {t["external_id"] for t in still_open["tickets"]}
    # The history's KPIs know each ticket's language (a fifth of the demo desk writes German).
    now = datetime.now(UTC)
    period = {"from": (now - timedelta(days=70)).isoformat(), "to": (now + timedelta(days=1)).isoformat()}
    kpis = httpx.get(f"{base}/v1/kpis", params={**period, "group_by": "language"}, headers=auth).json()
    tickets_by_language = {group["group"]: group["tickets_created"] for group in kpis["groups"]}
    assert tickets_by_language["de"] > 0.1 * sum(tickets_by_language.values()), tickets_by_language
    assert tickets_by_language.get(None, 0) < 0.05 * sum(tickets_by_language.values()), tickets_by_language

    # The whole history, not the default last 30 days: a window that ends now cuts the history wherever the
    # clock stands, one ticket more or less moves how k-means cuts the clusters (seen: 1,600 against 1,601).
    report = httpx.get(
        f"{base}/v1/insights/self-service-gaps", params={"top": 200, **period}, headers=auth, timeout=120
    )
    assert report.status_code == 200, report.text
    gaps = report.json()
    assert gaps["tickets"] > 1_000 and len(gaps["clusters"]) == gaps["clusters_found"]
    assert [group["language"] for group in gaps["languages"]] == ["en", "de"]
    for cluster in gaps["clusters"][:15]:
        texts = [example["text"] for example in cluster["examples"]]
        assert len(set(texts)) == len(texts), cluster
        for example in cluster["examples"]:
            ticket = httpx.get(f"{base}/v1/tickets/{example['ticket_id']}", headers=auth).json()
            assert ticket["language"] == cluster["language"], (ticket, cluster["language"])
    # The demo FAQ answers nothing about what products can do: that is where it falls short (over the whole
    # history product_information's clusters average 0.39, the next department 0.54).
    # Only departments whose clusters hold a real share of the tickets compete: a cluster or two led by the few
    # tickets left in triage make an average that says nothing (CI once had triage below product_information).
    similarity: dict[str, float] = {}
    size: dict[str, int] = {}
    for cluster in gaps["clusters"]:
        department = cluster["department"]
        similarity[department] = similarity.get(department, 0.0) + cluster["size"] * cluster["faq_similarity"]
        size[department] = size.get(department, 0) + cluster["size"]
    coverage = {
        department: similarity[department] / size[department]
        for department in size
        if size[department] >= 0.05 * gaps["tickets"]
    }
    assert min(coverage, key=coverage.__getitem__) == "product_information", (coverage, size)


def test_the_demo_desk_has_portal_searches_that_deflected_and_some_that_did_not(server: tuple[str, Path]) -> None:
    base, data_dir = server
    credentials = json.loads((data_dir / "demo-credentials.json").read_text())
    auth = {"Authorization": f"Bearer {credentials['api_key']}"}
    report = httpx.get(f"{base}/v1/insights/deflection", params={"group_by": "week"}, headers=auth, timeout=60)
    assert report.status_code == 200, report.text
    total = report.json()["total"]
    # Customers who searched and wrote anyway are judged not deflected; the others, deflected.
    assert total["judged"] > 300 and 0 < total["deflected"] < total["judged"], total
    assert 0.2 < total["deflection_rate"] < 0.9 and len(report.json()["groups"]) >= 4

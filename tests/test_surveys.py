"""Survey responses in (signed webhook, bulk import) and the survey KPIs, hand-worked, on SQLite and PostgreSQL.

Three tickets, all created on Mon 2026-11-16: s1 and s3 in billing (email, phone), s2 in cards (chat).
Six responses; the expected figures are worked out in the comments of each test.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient
from sqlalchemy import text

from assistant.db import make_engine
from assistant.security import signed_headers
from tests.support import WEBHOOK_SECRET, WEBHOOK_SOURCE

Headers = dict[str, str]
PERIOD = {"from": "2026-11-16T00:00:00Z", "to": "2026-11-30T00:00:00Z"}


def event(ticket: str, n: int, kind: str, at: str, **extra: Any) -> dict[str, Any]:
    actor = "customer" if kind == "ticket_created" else "agent"
    return {
        "source": WEBHOOK_SOURCE,
        "event_id": f"{ticket}-{n}",
        "ticket_id": ticket,
        "kind": kind,
        "occurred_at": at,
        "actor_type": actor,
        "actor_id": "agent-anna" if actor == "agent" else None,
        **extra,
    }


EVENTS = [
    event("s1", 0, "ticket_created", "2026-11-16T09:00:00Z", department="billing", channel="email"),
    event("s1", 1, "agent_reply", "2026-11-16T10:00:00Z"),
    event("s1", 2, "solved", "2026-11-16T11:00:00Z"),
    event("s2", 0, "ticket_created", "2026-11-16T10:00:00Z", department="cards", channel="chat"),
    event("s3", 0, "ticket_created", "2026-11-16T11:00:00Z", department="billing", channel="phone"),
]


def survey(response_id: str, at: str, ticket: str | None = None, **scores: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"source": WEBHOOK_SOURCE, "response_id": response_id, "responded_at": at, **scores}
    if ticket:
        body["ticket_id"] = ticket
    return body


SURVEYS = [
    survey("r1", "2026-11-17T09:00:00Z", "s1", csat=5, ces=6, nps=10, comment="Great! Mail me at jane.doe@example.com"),
    survey("r2", "2026-11-17T10:00:00Z", "s1", csat=3, nps=7),
    survey("r3", "2026-11-17T11:00:00Z", "s2", csat=4, ces=2, nps=0),
    survey("r4", "2026-11-23T08:00:00Z", "s3", csat=1, nps=9),  # the next week (Monday 2026-11-23)
    survey("r5", "2026-11-17T12:00:00Z", None, csat=5, nps=8),  # about no ticket
    survey("r6", "2026-11-17T13:00:00Z", "never-seen", ces=7),  # a ticket without timings
]


def post(client: TestClient[Any], path: str, payload: dict[str, Any], secret: str = WEBHOOK_SECRET) -> Any:
    body = json.dumps(payload).encode()
    return client.post(path, content=body, headers=signed_headers(secret, body))


@pytest.fixture
def lead(client: TestClient[Any], make_key: Callable[[str], Headers]) -> Headers:
    return make_key("agent")


@pytest.fixture
def loaded(client: TestClient[Any]) -> TestClient[Any]:
    assert post(client, "/v1/webhooks/events", {"events": EVENTS}).status_code == 201
    # r2 first arrives as a 2, then the customer changes it to a 3: the later delivery replaces it.
    first = post(client, "/v1/webhooks/surveys", {"surveys": [*SURVEYS[:1], dict(SURVEYS[1], csat=2)]})
    assert first.status_code == 201 and first.json() == {"accepted": 2, "updated": 0, "duplicates": 0}
    again = post(client, "/v1/webhooks/surveys", {"surveys": SURVEYS[:2]})
    assert again.status_code == 200 and again.json() == {"accepted": 0, "updated": 1, "duplicates": 1}
    for single in SURVEYS[2:]:  # one response per delivery, without the envelope
        assert post(client, "/v1/webhooks/surveys", single).status_code == 201
    return client


def groups(client: TestClient[Any], headers: Headers, **params: str) -> dict[str, dict[str, Any]]:
    response = client.get("/v1/kpis", params={**PERIOD, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return {str(group["group"]): group for group in response.json()["groups"]}


def figures(group: dict[str, Any]) -> tuple[Any, ...]:
    names = ("survey_responses", "csat_responses", "csat_rate", "ces_responses", "ces_mean", "nps_responses", "nps")
    return tuple(group[name] for name in names)


def test_survey_kpis_overall_and_by_ticket_dimension(loaded: TestClient[Any], lead: Headers) -> None:
    # All six: CSAT 5,3,4,1,5 → 3 of 5 satisfied (4–5) = 0.6; CES 6,2,7 → mean 5.0;
    # NPS 10,7,0,9,8 → promoters 2 (10, 9), detractors 1 (0) → 100·(2−1)/5 = 20.
    overall = groups(loaded, lead, group_by="all")["all"]
    assert figures(overall) == (6, 5, 0.6, 3, 5.0, 5, 20.0)
    by_department = groups(loaded, lead, group_by="department")
    # billing = r1, r2, r4: CSAT 5,3,1 → 1/3; CES 6; NPS 10,7,9 → 2 promoters of 3 = 66.67.
    assert figures(by_department["billing"]) == (3, 3, 0.3333, 1, 6.0, 3, 66.67)
    assert by_department["billing"]["tickets_created"] == 2
    # cards = r3: CSAT 4 → 1.0; CES 2; NPS 0 → −100.
    assert figures(by_department["cards"]) == (1, 1, 1.0, 1, 2.0, 1, -100.0)
    # r5 (no ticket) and r6 (a ticket with no timings) have no department: the unknown group.
    assert figures(by_department["None"]) == (2, 1, 1.0, 1, 7.0, 1, 0.0)
    by_channel = groups(loaded, lead, group_by="channel")
    assert figures(by_channel["phone"]) == (1, 1, 0.0, 0, None, 1, 100.0)  # r4 on s3
    assert by_channel["email"]["csat_rate"] == 0.5  # r1, r2 on s1: 5 and 3


def test_survey_kpis_count_under_the_response_date(loaded: TestClient[Any], lead: Headers) -> None:
    by_week = groups(loaded, lead, group_by="week")
    # Week of 2026-11-16: r1 r2 r3 r5 r6 → CSAT 5,3,4,5 → 0.75; CES 6,2,7 → 5.0; NPS 10,7,0,8 → 1−1 → 0.
    assert figures(by_week["2026-11-16"]) == (5, 4, 0.75, 3, 5.0, 4, 0.0)
    assert figures(by_week["2026-11-23"]) == (1, 1, 0.0, 0, None, 1, 100.0)  # r4, given a week after its ticket
    by_day = groups(loaded, lead, group_by="day")
    assert by_day["2026-11-16"]["survey_responses"] == 0 and by_day["2026-11-16"]["tickets_created"] == 3
    assert by_day["2026-11-17"]["survey_responses"] == 5
    two_ways = loaded.get("/v1/kpis", params={**PERIOD, "group_by": "department,week"}, headers=lead).json()
    billing_later = next(g for g in two_ways["groups"] if g["keys"] == {"department": "billing", "week": "2026-11-23"})
    assert figures(billing_later) == (1, 1, 0.0, 0, None, 1, 100.0) and billing_later["tickets_created"] == 0
    # The period is the response's: only r4 lies in the last week.
    late = groups(loaded, lead, group_by="all", **{"from": "2026-11-20T00:00:00Z"})["all"]
    assert late["survey_responses"] == 1 and late["tickets_created"] == 0


def test_survey_kpis_in_csv_and_comments_are_masked(loaded: TestClient[Any], lead: Headers, settings: Any) -> None:
    exported = loaded.get("/v1/kpis", params={**PERIOD, "group_by": "all", "format": "csv"}, headers=lead)
    assert exported.status_code == 200
    row = next(csv.DictReader(io.StringIO(exported.text)))
    assert (row["survey_responses"], row["csat_rate"], row["ces_mean"], row["nps"]) == ("6", "0.6", "5.0", "20.0")
    assert (row["csat_responses"], row["ces_responses"], row["nps_responses"]) == ("5", "3", "5")
    engine = make_engine(settings.resolved_database_url)
    with engine.connect() as connection:
        comment = connection.execute(text("SELECT comment FROM survey_responses WHERE response_id = 'r1'")).scalar()
    engine.dispose()
    assert comment is not None and "jane.doe@example.com" not in comment and comment.startswith("Great!")


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (survey("b1", "2026-11-17T09:00:00Z", csat=6), 400, "validation_error"),
        (survey("b1b", "2026-11-17T09:00:00Z", csat=True), 400, "validation_error"),
        (
            {k: v for k, v in survey("b1c", "2026-11-17T09:00:00Z", csat=4).items() if k != "source"},
            401,
            "missing_source",
        ),
        (survey("b2", "2026-11-17T09:00:00Z", nps=-1), 400, "validation_error"),
        (survey("b3", "2026-11-17T09:00:00Z"), 400, "validation_error"),  # no score at all
        (survey("b4", "2026-11-17T09:00:00", csat=4), 400, "validation_error"),  # no time zone
        (survey("b5", "2099-01-01T00:00:00Z", csat=4), 400, "validation_error"),
        ({"source": WEBHOOK_SOURCE, "surveys": []}, 400, "validation_error"),
        (
            {
                "surveys": [
                    survey("b6", "2026-11-17T09:00:00Z", csat=4),
                    {**survey("b7", "2026-11-17T09:00:00Z", csat=4), "source": "other"},
                ]
            },
            400,
            "mixed_sources",
        ),
        ({**survey("b8", "2026-11-17T09:00:00Z", csat=4), "source": "nobody"}, 401, "unknown_source"),
    ],
)
def test_bad_survey_deliveries_are_refused(
    client: TestClient[Any], lead: Headers, payload: dict[str, Any], status: int, code: str
) -> None:
    response = post(client, "/v1/webhooks/surveys", payload)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert groups(client, lead, group_by="all") == {}  # nothing stored


def test_surveys_need_a_valid_signature(client: TestClient[Any]) -> None:
    response = post(client, "/v1/webhooks/surveys", SURVEYS[0], secret="wrong-secret")
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_signature"


def test_bulk_import_of_surveys_and_the_kpis_command(
    settings: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.cli import main

    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", settings.resolved_database_url)
    events, surveys = tmp_path / "events.jsonl", tmp_path / "surveys.jsonl"
    events.write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n")
    surveys.write_text("\n".join(json.dumps(s) for s in SURVEYS) + "\n")
    runner = CliRunner()
    assert runner.invoke(main, ["import-events", str(events)]).exit_code == 0
    result = runner.invoke(main, ["import-surveys", str(surveys)])
    assert result.exit_code == 0, result.output
    assert "6 responses stored, 0 replaced, 0 already known" in result.output
    again = runner.invoke(main, ["import-surveys", str(surveys)])
    assert "0 responses stored, 0 replaced, 6 already known" in again.output
    table = runner.invoke(main, ["kpis", "--from", "2026-11-16", "--to", "2026-11-30", "--group-by", "all"])
    assert table.exit_code == 0, table.output
    row = table.output.strip().splitlines()[-1].split()
    assert row[-4:] == ["60%", "5.0", "20", "6"]  # CSAT, CES, NPS, responses
    bad = tmp_path / "bad.csv"
    bad.write_text("source,response_id,responded_at,csat\nacme-desk,x1,2026-11-17T09:00:00Z,9\n")
    failed = runner.invoke(main, ["import-surveys", str(bad)])
    assert failed.exit_code != 0 and "response 1 is not valid" in failed.output


def test_erasure_helpers_strip_comments_and_references_but_keep_the_scores(
    loaded: TestClient[Any], lead: Headers, settings: Any
) -> None:
    from assistant.db import session_scope
    from assistant.insights.deflection import PortalSearchRecord, scrub_customer_searches, stage_searches
    from assistant.surveys.service import scrub_customer

    extra = survey("r7", "2026-11-18T09:00:00Z", None, csat=4, customer_ref="cust-9", comment="call 0171 2345678")
    assert post(loaded, "/v1/webhooks/surveys", extra).status_code == 201
    before = figures(groups(loaded, lead, group_by="all")["all"])
    engine = make_engine(settings.resolved_database_url)
    with session_scope(engine) as session:
        stage_searches(session, [PortalSearchRecord("refund", "cust-9", 1, 0.5, None)])
        # cust-9's own response, and both responses on ticket s1 (r1 carries a comment).
        assert scrub_customer(session, "cust-9", [(WEBHOOK_SOURCE, "s1")]) == 3
        assert scrub_customer_searches(session, "cust-9") == 1
        session.commit()
    with engine.connect() as connection:
        left = connection.execute(
            text("SELECT count(*) FROM survey_responses WHERE comment IS NOT NULL OR customer_ref IS NOT NULL")
        ).scalar()
        searches = connection.execute(
            text("SELECT count(*) FROM portal_searches WHERE customer_ref = 'cust-9'")
        ).scalar()
    engine.dispose()
    assert left == 0 and searches == 0
    assert figures(groups(loaded, lead, group_by="all")["all"]) == before


def test_the_version_answered_last_wins_whatever_the_delivery_order(client: TestClient[Any], lead: Headers) -> None:
    older, newer = (
        survey("v1", "2026-11-17T15:00:00Z", csat=2, nps=3),
        survey("v1", "2026-11-17T15:30:00Z", csat=5, nps=10),
    )
    assert post(client, "/v1/webhooks/surveys", older).status_code == 201
    assert post(client, "/v1/webhooks/surveys", newer).json() == {"accepted": 0, "updated": 1, "duplicates": 0}
    # The older version retried changes nothing; in one delivery the later answer wins whichever comes first.
    assert post(client, "/v1/webhooks/surveys", older).json() == {"accepted": 0, "updated": 0, "duplicates": 1}
    batch = [survey("v2", "2026-11-17T16:30:00Z", csat=4, nps=9), survey("v2", "2026-11-17T16:00:00Z", csat=1, nps=0)]
    assert post(client, "/v1/webhooks/surveys", {"surveys": batch}).json()["accepted"] == 1
    overall = groups(client, lead, group_by="all")["all"]
    assert (overall["survey_responses"], overall["csat_rate"], overall["nps"]) == (2, 1.0, 100.0), overall

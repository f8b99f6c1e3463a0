"""KPIs on hand-worked timelines, through the signed event webhook and the KPI API, on SQLite and PostgreSQL.

Every expected value below is worked out by hand in the comment beside its timeline. Times are UTC;
the default schedule is Europe/Berlin Mon–Fri 09:00–17:00 (UTC+1 in November) with 2026-11-13 a holiday.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from assistant.security import signed_headers
from tests.support import WEBHOOK_SOURCE, deliver_events, post_ticket, ticket_payload

Headers = dict[str, str]
BERLIN_OFFICE = {
    "timezone": "Europe/Berlin",
    "hours": {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2026-11-13"],
}
ALWAYS_OPEN = {
    "timezone": "Europe/Berlin",
    "hours": {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
}


def event(ticket: str, n: int, kind: str, at: str, actor: str = "agent", **extra: Any) -> dict[str, Any]:
    actor_type = {"customer_reply": "customer", "auto_reply": "system"}.get(kind, actor)
    actor_id = {"agent": "agent-anna", "customer": None, "system": None}[actor_type]
    return {
        "source": WEBHOOK_SOURCE,
        "event_id": f"{ticket}-{n}",
        "ticket_id": ticket,
        "kind": kind,
        "occurred_at": at,
        "actor_type": actor_type,
        "actor_id": extra.pop("actor_id", actor_id),
        "channel": extra.pop("channel", "email"),
        **extra,
    }


def created(ticket: str, at: str, department: str, actor: str = "customer", **extra: Any) -> dict[str, Any]:
    return event(ticket, 0, "ticket_created", at, actor=actor, department=department, **extra)


TIMELINES: dict[str, list[dict[str, Any]]] = {
    # Auto reply at once, agent 2 h later, solved 1 h after: FRT 2 h, resolution 3 h; 10:00–13:00 Berlin is
    # all open, so business = calendar. One public reply, never reopened or moved: FCR.
    "t1": [
        created("t1", "2026-11-16T09:00:00Z", "t1"),
        event("t1", 1, "auto_reply", "2026-11-16T09:00:30Z"),
        event("t1", 2, "agent_reply", "2026-11-16T11:00:00Z"),
        event("t1", 3, "solved", "2026-11-16T12:00:00Z"),
    ],
    # The internal note is not a response: FRT runs to the agent's reply at 10:00 (1 h). Two public
    # replies: no FCR. Resolution 2.5 h.
    "t2": [
        created("t2", "2026-11-16T09:00:00Z", "t2"),
        event("t2", 1, "internal_note", "2026-11-16T09:30:00Z"),
        event("t2", 2, "agent_reply", "2026-11-16T10:00:00Z"),
        event("t2", 3, "customer_reply", "2026-11-16T10:30:00Z"),
        event("t2", 4, "agent_reply", "2026-11-16T11:00:00Z"),
        event("t2", 5, "solved", "2026-11-16T11:30:00Z"),
    ],
    # Logged by an agent at 08:00 (09:00 Berlin): nobody waits until the customer writes at 10:00;
    # the reply at 10:45 makes FRT 0.75 h. Resolution from creation: 3 h (09:00–12:00 Berlin, all open).
    "t3": [
        created("t3", "2026-11-16T08:00:00Z", "t3", actor="agent", channel="phone"),
        event("t3", 1, "customer_reply", "2026-11-16T10:00:00Z"),
        event("t3", 2, "agent_reply", "2026-11-16T10:45:00Z"),
        event("t3", 3, "solved", "2026-11-16T11:00:00Z"),
    ],
    # Solved at 10:00, reopened at 12:00, solved again at 14:00: first resolution 1 h, full 5 h, FRT
    # 0.5 h, no FCR, reopen rate 1.
    "t4": [
        created("t4", "2026-11-16T09:00:00Z", "t4"),
        event("t4", 1, "agent_reply", "2026-11-16T09:30:00Z"),
        event("t4", 2, "solved", "2026-11-16T10:00:00Z"),
        event("t4", 3, "reopened", "2026-11-16T12:00:00Z"),
        event("t4", 4, "agent_reply", "2026-11-16T13:00:00Z"),
        event("t4", 5, "solved", "2026-11-16T14:00:00Z"),
    ],
    # Moved from t5 to t5b after 10 min: reported under t5b, no FCR, transfer rate 1. FRT 1 h, resolution 1.5 h.
    "t5": [
        created("t5", "2026-11-16T09:00:00Z", "t5"),
        event("t5", 1, "transferred", "2026-11-16T09:10:00Z", department="t5b"),
        event("t5", 2, "agent_reply", "2026-11-16T10:00:00Z"),
        event("t5", 3, "solved", "2026-11-16T10:30:00Z"),
    ],
    # Thu 16:00 Berlin → Mon 10:00 Berlin: 90 calendar hours (Thu 15:00 UTC → Mon 09:00 UTC). Business:
    # Thu 16–17 (1 h) + Fri holiday (0) + weekend (0) + Mon 9–10 (1 h) = 2 h.
    "t6": [
        created("t6", "2026-11-12T15:00:00Z", "t6"),
        event("t6", 1, "agent_reply", "2026-11-16T09:00:00Z"),
    ],
    # Always-open desk across the end of summer time: Sun 2026-10-25 00:00 CEST (Sat 22:00 UTC) → Mon 00:00
    # CET (Sun 23:00 UTC) is one local day of 25 real hours; business hours = calendar = 25 h.
    "t7": [
        created("t7", "2026-10-24T22:00:00Z", "t7"),
        event("t7", 1, "agent_reply", "2026-10-25T23:00:00Z"),
    ],
    # The agent's reply arrives twice (same event id): counted once, so FCR holds. FRT 20 min.
    "t9": [
        created("t9", "2026-11-16T09:00:00Z", "t9"),
        event("t9", 1, "agent_reply", "2026-11-16T09:20:00Z"),
        event("t9", 1, "agent_reply", "2026-11-16T09:20:00Z"),
        event("t9", 2, "solved", "2026-11-16T09:40:00Z"),
    ],
    # No reply yet: not in FRT, but awaiting a first reply since 09:00; as of the period's end
    # (2026-11-17 00:00 UTC) that is 15 h.
    "t10": [created("t10", "2026-11-16T09:00:00Z", "t10")],
}
# t4 again, delivered in a scrambled order: the same figures.
TIMELINES["t8"] = [
    dict(e, ticket_id="t8", event_id=e["event_id"].replace("t4", "t8"), department=e.get("department") and "t8")
    for e in TIMELINES["t4"]
]
random.Random(7).shuffle(TIMELINES["t8"])


@pytest.fixture
def lead(client: TestClient[Any], make_key: Callable[[str], Headers]) -> Headers:
    return make_key("admin")


@pytest.fixture
def loaded(client: TestClient[Any], lead: Headers) -> TestClient[Any]:
    assert client.put("/v1/schedules/*", json=BERLIN_OFFICE, headers=lead).status_code == 200
    assert client.put("/v1/schedules/t7", json=ALWAYS_OPEN, headers=lead).status_code == 200
    for name, timeline in TIMELINES.items():
        if name == "t9":
            first = deliver_events(client, timeline[:2])
            assert first.status_code == 201 and first.json()["accepted"] == 2
            again = deliver_events(client, timeline[2:])
            assert again.json() == {"accepted": 1, "duplicates": 1, "tickets": 1}
        else:
            for single in timeline:  # one delivery per event, as a ticketing system sends them
                assert deliver_events(client, [single]).status_code == 201, name
    return client


def kpis(client: TestClient[Any], headers: Headers, **params: str) -> dict[str, dict[str, Any]]:
    response = client.get("/v1/kpis", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return {str(group["group"]): group for group in response.json()["groups"]}


def hours(group: dict[str, Any], duration: str, kind: str = "calendar") -> float | None:
    return group[duration][f"{kind}_hours"]["median"]


def test_hand_worked_timelines(loaded: TestClient[Any], lead: Headers) -> None:
    by_department = kpis(loaded, lead, **{"from": "2026-10-01T00:00:00Z", "to": "2026-11-20T00:00:00Z"})
    t1 = by_department["t1"]
    assert (hours(t1, "frt"), hours(t1, "frt", "business")) == (2.0, 2.0)
    assert hours(t1, "first_resolution") == 3.0 and hours(t1, "full_resolution") == 3.0 and t1["fcr_rate"] == 1.0
    t2 = by_department["t2"]
    assert hours(t2, "frt") == 1.0 and hours(t2, "first_resolution") == 2.5 and t2["fcr_rate"] == 0.0
    t3 = by_department["t3"]
    assert hours(t3, "frt") == 0.75 and hours(t3, "first_resolution", "business") == 3.0 and t3["fcr_rate"] == 1.0
    for name in ("t4", "t8"):
        reopened = by_department[name]
        assert hours(reopened, "frt") == 0.5 and hours(reopened, "first_resolution") == 1.0, name
        assert hours(reopened, "full_resolution") == 5.0 and reopened["fcr_rate"] == 0.0, name
        assert reopened["reopen_rate"] == 1.0 and reopened["tickets_solved"] == 1, name
    assert "t5" not in by_department
    moved = by_department["t5b"]
    assert moved["transfer_rate"] == 1.0 and moved["fcr_rate"] == 0.0 and hours(moved, "frt") == 1.0
    weekend = by_department["t6"]
    assert (hours(weekend, "frt"), hours(weekend, "frt", "business")) == (90.0, 2.0)
    assert weekend["tickets_solved"] == 0 and weekend["awaiting_first_reply"] == 0
    dst = by_department["t7"]
    assert (hours(dst, "frt"), hours(dst, "frt", "business")) == (25.0, 25.0)
    twice = by_department["t9"]
    assert hours(twice, "frt") == pytest.approx(1 / 3, abs=1e-4) and twice["fcr_rate"] == 1.0
    assert by_department["t10"]["frt"]["calendar_hours"]["count"] == 0

    waiting = kpis(loaded, lead, **{"from": "2026-11-16T00:00:00Z", "to": "2026-11-17T00:00:00Z"})["t10"]
    assert waiting["awaiting_first_reply"] == 1 and waiting["oldest_awaiting_hours"] == 15.0


def test_grouping_aggregates_in_the_database(loaded: TestClient[Any], lead: Headers) -> None:
    period = {"from": "2026-11-16T00:00:00Z", "to": "2026-11-17T00:00:00Z"}
    overall = kpis(loaded, lead, group_by="all", **period)["all"]
    # Created that day: t1 t2 t3 t4 t5 t8 t9 t10 (8); solved: all but t10 (7). FRT values (h):
    # 2, 1, 0.75, 0.5, 1, 0.5, 1/3 → sorted 1/3, .5, .5, .75, 1, 1, 2: median (4th) 0.75, p90 (7th) 2.
    assert overall["tickets_created"] == 8 and overall["tickets_solved"] == 7
    assert overall["frt"]["calendar_hours"]["count"] == 7
    assert overall["frt"]["calendar_hours"]["median"] == 0.75 and overall["frt"]["calendar_hours"]["p90"] == 2.0
    assert overall["frt"]["calendar_hours"]["mean"] == pytest.approx(
        (2 + 1 + 0.75 + 0.5 + 1 + 0.5 + 1 / 3) / 7, abs=1e-4
    )
    # FCR among the 7 solved: t1, t3, t9.
    assert overall["fcr_rate"] == pytest.approx(3 / 7, abs=1e-4)
    by_channel = kpis(loaded, lead, group_by="channel", **period)
    assert by_channel["phone"]["tickets_created"] == 1 and by_channel["email"]["tickets_created"] == 7
    by_agent = kpis(loaded, lead, group_by="agent", **period)
    assert by_agent["agent-anna"]["tickets_solved"] == 7
    by_day = kpis(loaded, lead, group_by="day", **period)
    assert by_day["2026-11-16"]["tickets_created"] == 8
    by_week = kpis(loaded, lead, group_by="week", **{"from": "2026-10-01T00:00:00Z", "to": "2026-11-20T00:00:00Z"})
    assert by_week["2026-11-16"]["tickets_created"] == 8 and by_week["2026-11-09"]["tickets_created"] == 1
    assert by_week["2026-10-19"]["tickets_created"] == 1  # t7, created Sat 2026-10-24

    two_ways = loaded.get(
        "/v1/kpis",
        params={"group_by": "department,week", "from": "2026-10-01T00:00:00Z", "to": "2026-11-20T00:00:00Z"},
        headers=lead,
    ).json()["groups"]
    t6 = next(g for g in two_ways if g["keys"] == {"department": "t6", "week": "2026-11-09"})
    assert t6["tickets_created"] == 1 and t6["frt"]["business_hours"]["median"] == 2.0
    assert len(two_ways) == 10  # t1 t2 t3 t4 t5b t6 t7 t8 t9 t10, each in one week

    exported = loaded.get("/v1/kpis", params={"group_by": "all", "format": "csv", **period}, headers=lead)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows[0]["tickets_created"] == "8" and rows[0]["frt_calendar_hours_median"] == "0.75"
    assert rows[0]["frt_business_hours_p90"] == "2.0"


def test_duration_distribution_counts_tickets_per_bucket(loaded: TestClient[Any], lead: Headers) -> None:
    period = {"from": "2026-11-16T00:00:00Z", "to": "2026-11-17T00:00:00Z"}
    response = loaded.get(
        "/v1/kpis/distribution", params={"group_by": "all", "hours": "calendar", **period}, headers=lead
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["buckets"] == ["0 h–1 h", "1 h–4 h", "4 h–8 h", "8 h–1 d", "1 d–3 d", "> 3 d"]
    # FRT (h) of the 7 answered tickets created that day: 1/3, .5, .5, .75 under 1 h; 1, 1, 2 in 1–4 h.
    assert report["groups"] == [{"group": "all", "keys": {"all": "all"}, "counts": [4, 3, 0, 0, 0, 0], "total": 7}]
    wide = {"from": "2026-10-01T00:00:00Z", "to": "2026-11-20T00:00:00Z", "group_by": "department"}
    frt = {
        g["group"]: g["counts"] for g in loaded.get("/v1/kpis/distribution", params=wide, headers=lead).json()["groups"]
    }
    # Business hours by default: t6 waited 90 calendar hours but 2 business hours; t7's 25 h day was all open.
    assert frt["t6"] == [0, 1, 0, 0, 0, 0] and frt["t7"] == [0, 0, 0, 0, 1, 0]
    full = loaded.get(
        "/v1/kpis/distribution", params={**wide, "metric": "full_resolution", "hours": "calendar"}, headers=lead
    ).json()
    by_group = {g["group"]: g["counts"] for g in full["groups"]}
    assert by_group["t4"] == [0, 0, 1, 0, 0, 0] and "t10" not in by_group  # 5 h; t10 is not solved
    bad = loaded.get("/v1/kpis/distribution", params={"metric": "speed"}, headers=lead)
    assert bad.status_code == 400 and bad.json()["error"]["code"]


def test_a_schedule_change_recomputes_business_hours(loaded: TestClient[Any], lead: Headers) -> None:
    period = {"from": "2026-11-01T00:00:00Z", "to": "2026-11-20T00:00:00Z"}
    before = kpis(loaded, lead, **period)["t6"]
    assert hours(before, "frt", "business") == 2.0
    # Without the holiday, Friday's 8 open hours count too: 1 + 8 + 1 = 10 h.
    no_holiday = dict(BERLIN_OFFICE, holidays=[])
    assert loaded.put("/v1/schedules/t6", json=no_holiday, headers=lead).status_code == 200
    assert hours(kpis(loaded, lead, **period)["t6"], "frt", "business") == 10.0
    assert loaded.delete("/v1/schedules/t6", headers=lead).status_code == 204
    assert hours(kpis(loaded, lead, **period)["t6"], "frt", "business") == 2.0
    listed = {s["department"] for s in loaded.get("/v1/schedules", headers=lead).json()}
    assert listed == {"*", "t7"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"timezone": "Mars/Olympus", "hours": {}}, "invalid_schedule"),
        ({"timezone": "UTC", "hours": {"mon": ["17:00-09:00"]}}, "invalid_schedule"),
        ({"timezone": "UTC", "hours": {"funday": ["09:00-17:00"]}}, "invalid_schedule"),
        ({"timezone": "UTC", "hours": {"mon": ["9am-5pm"]}}, "invalid_schedule"),
    ],
)
def test_bad_schedules_are_refused(client: TestClient[Any], lead: Headers, body: Any, code: str) -> None:
    response = client.put("/v1/schedules/billing", json=body, headers=lead)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    ("events", "code"),
    [
        ([{**created("x", "2026-11-16T09:00:00Z", "d"), "occurred_at": "2026-11-16T09:00:00"}], "validation_error"),
        ([{**created("x", "2026-11-16T09:00:00Z", "d"), "kind": "exploded"}], "validation_error"),
        ([{**created("x", "2026-11-16T09:00:00Z", "d"), "source": "other"}], "unknown_source"),
        ([{"not": "an event"}], "validation_error"),
        ([{**created("x", "2026-11-16T09:00:00Z", "d"), "department": "  "}], "validation_error"),
    ],
)
def test_bad_events_are_refused_and_nothing_is_stored(
    client: TestClient[Any], lead: Headers, events: list[dict[str, Any]], code: str
) -> None:
    good = created("kept", "2026-11-16T09:00:00Z", "kept")
    response = deliver_events(client, [good, *events])
    assert response.status_code in (400, 401), response.text
    assert response.json()["error"]["code"] in (code, "mixed_sources")
    groups = kpis(client, lead, **{"from": "2026-11-01T00:00:00Z", "to": "2026-11-20T00:00:00Z"})
    assert "kept" not in groups  # the delivery is all or nothing


def test_events_need_a_valid_signature(client: TestClient[Any]) -> None:
    body = json.dumps(created("x", "2026-11-16T09:00:00Z", "d")).encode()
    response = client.post("/v1/webhooks/events", content=body, headers=signed_headers("wrong-secret", body))
    assert response.status_code == 401


def test_kpi_period_and_grouping_are_checked(client: TestClient[Any], lead: Headers) -> None:
    bad = [
        {"from": "2026-11-20T00:00:00Z", "to": "2026-11-01T00:00:00Z"},
        {"from": "2026-11-01T00:00:00", "to": "2026-11-20T00:00:00Z"},
        {"group_by": "planet"},
        {"group_by": "department,department"},
        {"group_by": "all,week"},
        {"format": "xml"},
        {"from": "yesterday"},
    ]
    for params in bad:
        response = client.get("/v1/kpis", params=params, headers=lead)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["error"]["code"]


def test_a_period_of_plain_dates_is_midnight_utc(loaded: TestClient[Any], lead: Headers) -> None:
    """As the CLI takes it: 2026-11-16 is 2026-11-16T00:00:00Z."""
    dated = loaded.get("/v1/kpis", params={"from": "2026-10-01", "to": "2026-11-20", "group_by": "all"}, headers=lead)
    timed = {"from": "2026-10-01T00:00:00Z", "to": "2026-11-20T00:00:00+00:00", "group_by": "all"}
    assert dated.status_code == 200, dated.text
    assert dated.json() == loaded.get("/v1/kpis", params=timed, headers=lead).json()
    for bad in ("2026-13-01", "yesterday", "2026-11-01T00:00:00", "0001-01-01", "9999-12-31"):
        refused = loaded.get("/v1/kpis", params={"to": bad}, headers=lead)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_period", refused.text
    gaps = loaded.get("/v1/insights/self-service-gaps", params={"from": "2026-11-30", "to": "2026-11-01"}, headers=lead)
    assert gaps.status_code == 400 and gaps.json()["error"]["code"] == "invalid_period"


def test_bulk_import_and_the_kpis_command(settings: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.cli import main

    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", settings.resolved_database_url)
    path = tmp_path / "events.jsonl"
    lines = [e for name in ("t1", "t2", "t4") for e in TIMELINES[name]]
    path.write_text("\n".join(json.dumps(e) for e in lines) + "\n")
    runner = CliRunner()
    result = runner.invoke(main, ["import-events", str(path)])
    assert result.exit_code == 0, result.output
    assert "16 events stored, 0 already known; 3 tickets updated" in result.output
    again = runner.invoke(main, ["import-events", str(path)])
    assert "0 events stored, 16 already known" in again.output
    table = runner.invoke(main, ["kpis", "--from", "2026-11-16", "--to", "2026-11-17", "--group-by", "all"])
    assert table.exit_code == 0, table.output
    row = table.output.strip().splitlines()[-1]  # the header, then the one group "all"
    # FRT 2, 1, 0.5 → median 1.0 h; FCR 1 of 3.
    assert row.split()[1:5] == ["3", "3", "1.0h", "2.0h"] and "33%" in row
    exported = runner.invoke(main, ["kpis", "--from", "2026-11-16", "--to", "2026-11-17", "--csv"])
    assert exported.output.startswith("department,tickets_created")
    # Without --from the period is the 30 days before --to, as for the insights commands.
    month = runner.invoke(main, ["kpis", "--to", "2026-11-17", "--group-by", "all"])
    assert month.exit_code == 0, month.output
    assert month.output.startswith("2026-10-18 00:00 – 2026-11-17 00:00 UTC")
    assert month.output.strip().splitlines()[-1] == row
    future = runner.invoke(main, ["kpis", "--from", "2199-01-01"])
    assert future.exit_code == 2 and "--from" in future.output and "must start before it ends" in future.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"source": "x"}\n')
    failed = runner.invoke(main, ["import-events", str(bad)])
    assert failed.exit_code != 0 and "event 1 is not valid" in failed.output


def test_the_recompute_timings_command_rebuilds_every_tickets_timings(
    settings: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an upgrade that changes how timings are worked out, or a restore: every ticket's row is made again."""
    from sqlalchemy import text

    from assistant.cli import main
    from assistant.db import make_engine

    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", settings.resolved_database_url)
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for name in ("t1", "t2", "t4") for e in TIMELINES[name]) + "\n")
    runner = CliRunner()
    assert runner.invoke(main, ["import-events", str(path)]).exit_code == 0
    period = ["--from", "2026-11-16", "--to", "2026-11-17", "--group-by", "all"]
    before = runner.invoke(main, ["kpis", *period]).output
    engine = make_engine(settings.resolved_database_url)
    with engine.begin() as connection:  # as if an older version had worked them out, or lost them
        connection.execute(text("DELETE FROM ticket_timings"))
    engine.dispose()
    assert runner.invoke(main, ["kpis", *period]).output != before
    result = runner.invoke(main, ["recompute-timings"])
    assert result.exit_code == 0 and "3 tickets' timings recomputed" in result.output, result.output
    assert runner.invoke(main, ["kpis", *period]).output == before


def test_schedules_from_a_config_file_at_start(
    settings: Any, embedder: Any, tmp_path: Any, make_key: Callable[[str], Headers]
) -> None:
    from dataclasses import replace

    from assistant.app import create_app

    path = tmp_path / "business-hours.json"
    path.write_text(json.dumps({"departments": {"*": BERLIN_OFFICE, "t7": ALWAYS_OPEN}}))
    with TestClient(create_app(replace(settings, business_hours_path=path), embedder=embedder)) as client:
        listed = {s["department"]: s for s in client.get("/v1/schedules", headers=make_key("agent")).json()}
        assert listed["*"]["timezone"] == "Europe/Berlin" and listed["*"]["holidays"] == ["2026-11-13"]
        assert listed["t7"]["hours"]["sun"] == ["00:00-24:00"]
        for single in TIMELINES["t6"]:
            assert deliver_events(client, [single]).status_code == 201
        t6 = kpis(client, make_key("agent"), **{"from": "2026-11-01T00:00:00Z", "to": "2026-11-20T00:00:00Z"})["t6"]
        assert hours(t6, "frt", "business") == 2.0


def test_a_bad_period_names_the_parameters_the_client_sent(client: TestClient[Any], lead: Headers) -> None:
    for path in ("/v1/kpis", "/v1/insights/drivers"):
        response = client.get(path, params={"from": "2026-11-01T09:00", "to": "last week"}, headers=lead)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_period"
        assert {detail["field"] for detail in error["details"]} == {"from", "to"}, error
        for detail in error["details"]:
            assert detail["in"] == "query" and "2026-11-01T00:00:00Z" in detail["message"], detail


def test_an_events_department_is_trimmed(client: TestClient[Any], lead: Headers) -> None:
    assert deliver_events(client, [created("p1", "2026-11-16T09:00:00Z", " returns  ")]).status_code == 201
    groups = kpis(client, lead, **{"from": "2026-11-01T00:00:00Z", "to": "2026-11-20T00:00:00Z"})
    assert "returns" in groups and " returns  " not in groups, groups


def test_events_that_come_before_their_ticket_are_timed_with_it(client: TestClient[Any], lead: Headers) -> None:
    """Ticketing systems do not promise order: a ticket's events may arrive before the ticket itself. Its
    timings then lack the ticket's language and routed department until the ticket comes; when it does, they
    are recomputed with them, and with that department's business hours."""
    assert client.put("/v1/schedules/*", json=BERLIN_OFFICE, headers=lead).status_code == 200
    assert client.put("/v1/schedules/priority_desk", json=ALWAYS_OPEN, headers=lead).status_code == 200
    # Saturday: no open hour in the Berlin office, two in the always-open priority desk. No event names a
    # department, so the ticket's routed one (the rules send VIP customers to priority_desk) is the ticket's.
    early = [
        event("late-1", 0, "ticket_created", "2026-11-14T10:00:00Z", actor="customer"),
        event("late-1", 1, "agent_reply", "2026-11-14T12:00:00Z"),
    ]
    assert deliver_events(client, early).status_code == 201
    period = {"from": "2026-11-14T00:00:00Z", "to": "2026-11-15T00:00:00Z"}
    before = kpis(client, lead, **period)
    assert "priority_desk" not in before and hours(before["None"], "frt", "business") == 0.0, before

    ticket = ticket_payload(external_id="late-1", customer_tier="vip", created_at="2026-11-14T10:00:00Z")
    answer = post_ticket(client, ticket)
    assert answer.status_code == 201 and answer.json()["department"] == "priority_desk", answer.text
    after = kpis(client, lead, **period)
    assert set(after) == {"priority_desk"}, after
    assert (hours(after["priority_desk"], "frt"), hours(after["priority_desk"], "frt", "business")) == (2.0, 2.0)
    assert set(kpis(client, lead, group_by="language", **period)) == {"en"}


def test_a_ticket_delivered_after_its_events_without_a_created_time_is_timed_by_them(
    client: TestClient[Any], lead: Headers
) -> None:
    """A ticket the webhook delivers without a created time is stamped on receipt, after events its system sent
    earlier: the stamp says nothing of when the ticket began, so its events alone say. Here the agent wrote first
    (an outbound ticket): the first response is timed from the customer's answer, not as 0 h from the agent's
    own message."""
    assert client.put("/v1/schedules/*", json=ALWAYS_OPEN, headers=lead).status_code == 200
    outbound = [
        event("late-2", 1, "agent_reply", "2026-11-16T09:00:00Z"),
        event("late-2", 2, "customer_reply", "2026-11-16T10:00:00Z"),
        event("late-2", 3, "agent_reply", "2026-11-16T11:00:00Z"),
    ]
    assert deliver_events(client, outbound).status_code == 201
    period = {"from": "2026-11-16T00:00:00Z", "to": "2026-11-17T00:00:00Z", "group_by": "all"}
    assert hours(kpis(client, lead, **period)["all"], "frt") == 1.0
    ticket = ticket_payload(external_id="late-2")
    del ticket["created_at"]
    assert post_ticket(client, ticket).status_code == 201
    timed = kpis(client, lead, **period)["all"]
    assert timed["tickets_created"] == 1 and hours(timed, "frt") == 1.0, timed

    # A created time the system sent, a second after the agent's reply, is a clock a second off, not an outbound
    # ticket: the reply answered the request at once.
    assert deliver_events(client, [event("late-3", 1, "agent_reply", "2026-11-16T13:00:00Z")]).status_code == 201
    assert (
        post_ticket(client, ticket_payload(external_id="late-3", created_at="2026-11-16T13:00:01Z")).status_code == 201
    )
    both = kpis(client, lead, **period)["all"]
    assert both["tickets_created"] == 2 and both["frt"]["calendar_hours"]["count"] == 2, both
    assert both["frt"]["calendar_hours"]["mean"] == 0.5, both  # 1 h and 0 h


def test_a_delivered_ticket_without_a_creation_event_is_timed_from_its_created_time(
    client: TestClient[Any], lead: Headers
) -> None:
    """An integration that sends its tickets to the webhook and only their replies as events: the ticket counts
    from its own created time, waiting for its first reply until one comes."""
    assert client.put("/v1/schedules/*", json=ALWAYS_OPEN, headers=lead).status_code == 200
    # The desk sends events (here for another ticket, another week): its tickets are timed from delivery on.
    assert deliver_events(client, [event("earlier-1", 1, "agent_reply", "2026-11-02T10:00:00Z")]).status_code == 201
    ticket = ticket_payload(external_id="web-only-1", created_at="2026-11-17T09:00:00Z")
    assert post_ticket(client, ticket).status_code == 201
    period = {"from": "2026-11-17T00:00:00Z", "to": "2026-11-18T00:00:00Z"}
    waiting = kpis(client, lead, group_by="all", **period)["all"]
    assert (waiting["tickets_created"], waiting["awaiting_first_reply"]) == (1, 1), waiting

    # A reply an hour in and the solve two hours later: FRT 1 h and resolution 3 h from 09:00, not from the reply.
    replies = [
        event("web-only-1", 1, "agent_reply", "2026-11-17T10:00:00Z"),
        event("web-only-1", 2, "solved", "2026-11-17T12:00:00Z"),
    ]
    assert deliver_events(client, replies).status_code == 201
    answered = kpis(client, lead, group_by="all", **period)["all"]
    assert (hours(answered, "frt"), hours(answered, "first_resolution")) == (1.0, 3.0), answered
    assert answered["awaiting_first_reply"] == 0 and answered["fcr_rate"] == 1.0


def test_solving_a_solved_ticket_again_changes_nothing(client: TestClient[Any], lead: Headers) -> None:
    """A second solve without a reopen (a resolution edited an hour later, a double click) does not move the
    ticket's resolution; a solve after a reopen does."""
    timeline = [
        created("again-1", "2026-11-16T09:00:00Z", "returns"),
        event("again-1", 1, "agent_reply", "2026-11-16T10:00:00Z"),
        event("again-1", 2, "solved", "2026-11-16T11:00:00Z"),
        event("again-1", 3, "solved", "2026-11-16T12:00:00Z"),
    ]
    assert deliver_events(client, timeline).status_code == 201
    period = {"from": "2026-11-16T00:00:00Z", "to": "2026-11-17T00:00:00Z"}
    once = kpis(client, lead, **period)["returns"]
    assert (hours(once, "first_resolution"), hours(once, "full_resolution")) == (2.0, 2.0), once
    reopened = [
        event("again-1", 4, "reopened", "2026-11-16T13:00:00Z"),
        event("again-1", 5, "solved", "2026-11-16T14:00:00Z"),
    ]
    assert deliver_events(client, reopened).status_code == 201
    twice = kpis(client, lead, **period)["returns"]
    assert (hours(twice, "first_resolution"), hours(twice, "full_resolution")) == (2.0, 5.0), twice


def test_a_reroute_moves_the_tickets_timings_where_no_event_names_a_department(
    client: TestClient[Any], lead: Headers
) -> None:
    assert client.put("/v1/schedules/*", json=BERLIN_OFFICE, headers=lead).status_code == 200
    assert client.put("/v1/schedules/weekend_desk", json=ALWAYS_OPEN, headers=lead).status_code == 200
    routed = post_ticket(
        client, ticket_payload(external_id="rr-1", customer_tier="vip", created_at="2026-11-14T10:00:00Z")
    )
    assert routed.json()["department"] == "priority_desk", routed.text
    saturday = [
        event("rr-1", 0, "ticket_created", "2026-11-14T10:00:00Z", actor="customer"),
        event("rr-1", 1, "agent_reply", "2026-11-14T12:00:00Z"),
    ]
    assert deliver_events(client, saturday).status_code == 201
    period = {"from": "2026-11-14T00:00:00Z", "to": "2026-11-15T00:00:00Z"}
    assert hours(kpis(client, lead, **period)["priority_desk"], "frt", "business") == 0.0
    moved = client.post(
        f"/v1/tickets/{routed.json()['ticket_id']}/reroute", json={"department": "weekend_desk"}, headers=lead
    )
    assert moved.status_code == 201, moved.text
    after = kpis(client, lead, **period)
    assert set(after) == {"weekend_desk"} and hours(after["weekend_desk"], "frt", "business") == 2.0, after


def test_the_csv_export_shows_formula_like_text_as_text(client: TestClient[Any], lead: Headers) -> None:
    """A department or agent id an event sends as a spreadsheet formula arrives in the export as text, not as a
    formula that runs when a lead opens the file."""
    events = [
        created("f1", "2026-11-16T09:00:00Z", '=HYPERLINK("http://evil.example","x")'),
        event("f1", 1, "agent_reply", "2026-11-16T10:00:00Z", actor_id="@SUM(1+1)"),
        event("f1", 2, "solved", "2026-11-16T11:00:00Z", actor_id="@SUM(1+1)"),
    ]
    assert deliver_events(client, events).status_code == 201
    period = {"from": "2026-11-16T00:00:00Z", "to": "2026-11-17T00:00:00Z", "format": "csv"}
    for group_by, column, value in (
        ("department", "department", '\'=HYPERLINK("http://evil.example","x")'),
        ("agent", "agent", "'@SUM(1+1)"),
    ):
        exported = client.get("/v1/kpis", params={**period, "group_by": group_by}, headers=lead)
        assert exported.status_code == 200, exported.text
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert [row[column] for row in rows] == [value], rows
        assert rows[0]["frt_calendar_hours_median"] == "1.0"  # figures stay numbers

"""Business-hours arithmetic: pure, no model and no database; every expected value is worked out in a comment."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from assistant.events.timeline import TimelineEvent, timeline_facts
from assistant.schedules.hours import DEFAULT_SCHEDULE, BusinessSchedule

HOUR = 3600.0
BERLIN = ZoneInfo("Europe/Berlin")
IST = timezone(timedelta(hours=5, minutes=30))  # India, +05:30: a fixed offset, not a zone name.

# Calendar used below: 2026-06-01 is a Monday, 2026-06-05 a Friday, 2026-06-06 a Saturday, 2026-06-08 a Monday;
# 2026-12-24 is a Thursday, 2026-12-25 a Friday, 2026-12-28 a Monday. Europe/Berlin springs forward on Sunday
# 2026-03-29 (02:00 CET -> 03:00 CEST) and falls back on Sunday 2026-10-25 (03:00 CEST -> 02:00 CET).


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def weekdays(*intervals: tuple[time, time]) -> dict[int, list[tuple[time, time]]]:
    return {day: list(intervals) for day in range(5)}


NINE_TO_FIVE = DEFAULT_SCHEDULE  # Mon–Fri 09:00–17:00 UTC
LUNCH_BREAK = BusinessSchedule.from_dict(
    {"timezone": "UTC", "hours": {name: ["09:00-12:00", "13:00-17:00"] for name in ("mon", "tue", "wed", "thu", "fri")}}
)
ALWAYS_OPEN_BERLIN = BusinessSchedule("Europe/Berlin", {day: [(time(0), time(0))] for day in range(7)})  # 24/7


# --- business_seconds: ordinary days --------------------------------------------------------------------------


def test_same_day_inside_hours() -> None:
    # Monday 10:00 -> 12:30, all inside 09:00–17:00: 2.5 h.
    assert NINE_TO_FIVE.business_seconds(utc(2026, 6, 1, 10), utc(2026, 6, 1, 12, 30)) == 2.5 * HOUR


def test_starting_before_opening_counts_from_opening() -> None:
    # Monday 07:00 -> 10:00: only 09:00–10:00 is open, 1 h.
    assert NINE_TO_FIVE.business_seconds(utc(2026, 6, 1, 7), utc(2026, 6, 1, 10)) == 1 * HOUR


def test_ending_after_closing_counts_until_closing() -> None:
    # Monday 15:00 -> 20:00: only 15:00–17:00 is open, 2 h.
    assert NINE_TO_FIVE.business_seconds(utc(2026, 6, 1, 15), utc(2026, 6, 1, 20)) == 2 * HOUR


def test_whole_open_day_and_closed_night() -> None:
    # Monday 00:00 -> Tuesday 00:00 is one full 8 h day; Monday 17:00 -> Tuesday 09:00 is all night, 0 h.
    assert NINE_TO_FIVE.business_seconds(utc(2026, 6, 1), utc(2026, 6, 2)) == 8 * HOUR
    assert NINE_TO_FIVE.business_seconds(utc(2026, 6, 1, 17), utc(2026, 6, 2, 9)) == 0.0


def test_spanning_a_weekend() -> None:
    # Friday 16:00 -> Monday 10:00: Friday 16:00–17:00 (1 h) + Monday 09:00–10:00 (1 h) = 2 h.
    assert NINE_TO_FIVE.business_seconds(utc(2026, 6, 5, 16), utc(2026, 6, 8, 10)) == 2 * HOUR


def test_spanning_a_holiday() -> None:
    # Friday 2026-12-25 is a holiday. Thursday 16:00 -> Monday 10:00: Thursday 16:00–17:00 (1 h), Friday closed,
    # weekend closed, Monday 09:00–10:00 (1 h) = 2 h. Without the holiday Friday would add 8 h.
    christmas = BusinessSchedule("UTC", weekdays((time(9), time(17))), frozenset({date(2026, 12, 25)}))
    start, end = utc(2026, 12, 24, 16), utc(2026, 12, 28, 10)
    assert christmas.business_seconds(start, end) == 2 * HOUR
    assert NINE_TO_FIVE.business_seconds(start, end) == 10 * HOUR


def test_split_day_skips_the_lunch_break() -> None:
    # Monday 11:00 -> 14:00 with 09:00–12:00 and 13:00–17:00: 11:00–12:00 (1 h) + 13:00–14:00 (1 h) = 2 h.
    assert LUNCH_BREAK.business_seconds(utc(2026, 6, 1, 11), utc(2026, 6, 1, 14)) == 2 * HOUR
    # The whole day: 3 h + 4 h = 7 h.
    assert LUNCH_BREAK.business_seconds(utc(2026, 6, 1), utc(2026, 6, 2)) == 7 * HOUR


def test_ticket_created_on_saturday_answered_monday_morning() -> None:
    # Created Saturday 14:00, answered Monday 09:30: the weekend is closed, Monday 09:00–09:30 = 30 min.
    assert NINE_TO_FIVE.business_seconds(utc(2026, 6, 6, 14), utc(2026, 6, 8, 9, 30)) == 30 * 60


def test_local_time_zone_decides_the_hours() -> None:
    # Berlin 09:00–17:00 in June (CEST, UTC+2) is 07:00–15:00 UTC. Monday 06:00 -> 08:00 UTC is 1 h of it.
    schedule = BusinessSchedule("Europe/Berlin", weekdays((time(9), time(17))))
    assert schedule.business_seconds(utc(2026, 6, 1, 6), utc(2026, 6, 1, 8)) == 1 * HOUR


def test_spans_split_anywhere_add_up() -> None:
    # [a, c) = [a, b) + [b, c) for any b in between: 18:30 Monday is in the closed evening, 12:15 Tuesday in lunch.
    a, c = utc(2026, 6, 1, 10, 7), utc(2026, 6, 3, 15, 41)
    for b in (utc(2026, 6, 1, 18, 30), utc(2026, 6, 2, 12, 15), utc(2026, 6, 3, 9)):
        assert LUNCH_BREAK.business_seconds(a, b) + LUNCH_BREAK.business_seconds(b, c) == pytest.approx(
            LUNCH_BREAK.business_seconds(a, c)
        )


# --- business_seconds: DST ------------------------------------------------------------------------------------


def test_spring_forward_day_is_23_real_hours() -> None:
    # Sunday 2026-03-29 00:00 CET (Sat 23:00 UTC) -> Monday 00:00 CEST (Sun 22:00 UTC) = 23 h of real time.
    assert ALWAYS_OPEN_BERLIN.business_seconds(berlin(2026, 3, 29), berlin(2026, 3, 30)) == 23 * HOUR
    # A Sunday-only 00:00–24:00 schedule, asked about Saturday 00:00 -> Monday 12:00: only Sunday counts, 23 h.
    sundays = BusinessSchedule.from_dict({"timezone": "Europe/Berlin", "hours": {"sun": ["00:00-24:00"]}})
    assert sundays.business_seconds(berlin(2026, 3, 28), berlin(2026, 3, 30, 12)) == 23 * HOUR


def test_fall_back_day_is_25_real_hours() -> None:
    # Sunday 2026-10-25 00:00 CEST (Sat 22:00 UTC) -> Monday 00:00 CET (Sun 23:00 UTC) = 25 h of real time.
    assert ALWAYS_OPEN_BERLIN.business_seconds(berlin(2026, 10, 25), berlin(2026, 10, 26)) == 25 * HOUR
    sundays = BusinessSchedule.from_dict({"timezone": "Europe/Berlin", "hours": {"sun": ["00:00-24:00"]}})
    assert sundays.business_seconds(berlin(2026, 10, 24), berlin(2026, 10, 26, 12)) == 25 * HOUR


def test_interval_across_the_spring_forward_jump_is_real_time() -> None:
    # 01:00–04:00 on 2026-03-29: 01:00 CET = 00:00 UTC, 04:00 CEST = 02:00 UTC, so 2 h, not 3.
    night = BusinessSchedule("Europe/Berlin", {6: [(time(1), time(4))]})
    assert night.business_seconds(berlin(2026, 3, 29), berlin(2026, 3, 30)) == 2 * HOUR
    # The week before, the same interval is 3 h.
    assert night.business_seconds(berlin(2026, 3, 22), berlin(2026, 3, 23)) == 3 * HOUR


def test_interval_across_the_fall_back_jump_is_real_time() -> None:
    # 01:00–04:00 on 2026-10-25: 01:00 CEST = 23:00 UTC (Sat), 04:00 CET = 03:00 UTC, so 4 h, not 3.
    night = BusinessSchedule("Europe/Berlin", {6: [(time(1), time(4))]})
    assert night.business_seconds(berlin(2026, 10, 25), berlin(2026, 10, 26)) == 4 * HOUR


def test_opening_inside_the_skipped_hour_counts_from_the_jump() -> None:
    # 02:30 never shows on 2026-03-29: the clock jumps from 02:00 CET to 03:00 CEST at 01:00 UTC. An interval
    # 02:30–05:00 therefore opens at the jump (01:00 UTC) and closes at 05:00 CEST (03:00 UTC): 2 h.
    early = BusinessSchedule("Europe/Berlin", {6: [(time(2, 30), time(5))]})
    assert early.business_seconds(berlin(2026, 3, 29), berlin(2026, 3, 30)) == 2 * HOUR
    # is_open agrees: 03:15 CEST shows a time after 02:30, so it is open; 01:59 CET is before it.
    assert early.is_open(berlin(2026, 3, 29, 3, 15))
    assert not early.is_open(berlin(2026, 3, 29, 1, 59))


def test_start_and_end_in_different_zones_mean_the_same_instants() -> None:
    # Monday 10:00 UTC is 15:30 at +05:30; Monday 12:30 UTC is 18:00 at +05:30. Still 2.5 h.
    start, end = utc(2026, 6, 1, 10), datetime(2026, 6, 1, 18, 0, tzinfo=IST)
    assert NINE_TO_FIVE.business_seconds(start, end) == 2.5 * HOUR
    assert NINE_TO_FIVE.business_seconds(start.astimezone(IST), end.astimezone(UTC)) == 2.5 * HOUR


def test_end_not_after_start_is_zero() -> None:
    assert NINE_TO_FIVE.business_seconds(utc(2026, 6, 1, 12), utc(2026, 6, 1, 10)) == 0.0
    assert NINE_TO_FIVE.business_seconds(utc(2026, 6, 1, 12), utc(2026, 6, 1, 12)) == 0.0
    # 17:30 at +05:30 is 12:00 UTC: the same instant written in another zone is still an empty span.
    assert NINE_TO_FIVE.business_seconds(utc(2026, 6, 1, 12), datetime(2026, 6, 1, 17, 30, tzinfo=IST)) == 0.0


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        NINE_TO_FIVE.business_seconds(datetime(2026, 6, 1, 10), utc(2026, 6, 1, 12))
    with pytest.raises(ValueError, match="no time zone"):
        NINE_TO_FIVE.business_seconds(utc(2026, 6, 1, 10), datetime(2026, 6, 1, 12))
    with pytest.raises(ValueError, match="no time zone"):
        NINE_TO_FIVE.is_open(datetime(2026, 6, 1, 10))


def test_two_year_span() -> None:
    # 2025 and 2026 both have 261 weekdays (365 days = 52 weeks + 1 day, a Wednesday then a Thursday):
    # 522 days x 8 h = 4176 h. Counted per day, not per minute, so this is quick.
    assert NINE_TO_FIVE.business_seconds(utc(2025, 1, 1), utc(2027, 1, 1)) == 4176 * HOUR
    # Around the clock in Berlin it is exactly the real elapsed time, DST changes included: 730 days.
    assert ALWAYS_OPEN_BERLIN.business_seconds(utc(2025, 1, 1), utc(2027, 1, 1)) == 730 * 24 * HOUR


# --- is_open --------------------------------------------------------------------------------------------------


def test_is_open() -> None:
    assert NINE_TO_FIVE.is_open(utc(2026, 6, 1, 9))  # opening instant is open
    assert NINE_TO_FIVE.is_open(utc(2026, 6, 1, 16, 59, 59))
    assert not NINE_TO_FIVE.is_open(utc(2026, 6, 1, 17))  # closing instant is not: [start, end)
    assert not NINE_TO_FIVE.is_open(utc(2026, 6, 6, 12))  # Saturday
    assert not LUNCH_BREAK.is_open(utc(2026, 6, 1, 12, 30))
    # 14:00 at +05:30 is 08:30 UTC, before opening; 15:00 at +05:30 is 09:30 UTC.
    assert not NINE_TO_FIVE.is_open(datetime(2026, 6, 1, 14, tzinfo=IST))
    assert NINE_TO_FIVE.is_open(datetime(2026, 6, 1, 15, tzinfo=IST))
    christmas = BusinessSchedule("UTC", weekdays((time(9), time(17))), frozenset({date(2026, 12, 25)}))
    assert not christmas.is_open(utc(2026, 12, 25, 12))
    # The repeated hour of the fall-back night is open around the clock.
    assert ALWAYS_OPEN_BERLIN.is_open(datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=BERLIN))


# --- from_dict / to_dict ----------------------------------------------------------------------------------------


def test_from_dict_reads_hours_holidays_and_closed_days() -> None:
    schedule = BusinessSchedule.from_dict(
        {
            "timezone": "Europe/Berlin",
            "hours": {"mon": ["09:00-17:00"], "tue": ["13:00-17:00", "09:00-12:00"], "sat": []},
            "holidays": ["2026-12-25", "2026-12-26"],
        }
    )
    assert schedule.timezone == "Europe/Berlin"
    # Intervals come back sorted; closed and missing days are simply absent.
    assert dict(schedule.weekly) == {
        0: ((time(9), time(17)),),
        1: ((time(9), time(12)), (time(13), time(17))),
    }
    assert schedule.holidays == frozenset({date(2026, 12, 25), date(2026, 12, 26)})


def test_24_00_is_midnight_at_the_end_of_the_day() -> None:
    schedule = BusinessSchedule.from_dict(
        {"timezone": "UTC", "hours": {"fri": ["18:00-24:00"], "sat": ["00:00-06:00"]}}
    )
    assert dict(schedule.weekly) == {4: ((time(18), time(0)),), 5: ((time(0), time(6)),)}
    # Friday 20:00 -> Saturday 02:00 runs across midnight without a gap: 4 h + 2 h = 6 h.
    assert schedule.business_seconds(utc(2026, 6, 5, 20), utc(2026, 6, 6, 2)) == 6 * HOUR


def test_to_dict_round_trip() -> None:
    data = {
        "timezone": "Europe/Berlin",
        "hours": {
            "mon": ["09:00-12:00", "13:00-17:30"],
            "tue": ["08:00:30-16:00"],
            "wed": [],
            "thu": ["00:00-24:00"],
            "fri": ["09:00-17:00"],
            "sat": ["10:00-14:00"],
            "sun": [],
        },
        "holidays": ["2026-05-01", "2026-12-25"],
    }
    schedule = BusinessSchedule.from_dict(data)
    assert schedule.to_dict() == data
    assert json.loads(json.dumps(schedule.to_dict())) == data  # what gets stored is plain JSON
    assert BusinessSchedule.from_dict(schedule.to_dict()) == schedule
    # Directly built schedules round-trip too, and equal schedules hash alike (usable as cache keys).
    assert BusinessSchedule.from_dict(DEFAULT_SCHEDULE.to_dict()) == DEFAULT_SCHEDULE
    assert hash(BusinessSchedule.from_dict(DEFAULT_SCHEDULE.to_dict())) == hash(DEFAULT_SCHEDULE)


def test_default_schedule() -> None:
    assert DEFAULT_SCHEDULE.to_dict() == {
        "timezone": "UTC",
        "hours": {
            **{name: ["09:00-17:00"] for name in ("mon", "tue", "wed", "thu", "fri")},
            "sat": [],
            "sun": [],
        },
        "holidays": [],
    }


def schedule_with(**changes: Any) -> dict[str, Any]:
    return {"timezone": "UTC", "hours": {"mon": ["09:00-17:00"]}, **changes}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            schedule_with(hours={"mon": ["9am-5pm"]}),
            r"hours\.mon\[0\] is '9am-5pm'; write an interval as 'HH:MM-HH:MM'",
        ),
        (schedule_with(hours={"mon": ["09:00"]}), r"write an interval as 'HH:MM-HH:MM'"),
        (schedule_with(hours={"mon": ["09:00-17:60"]}), r"impossible time"),
        (schedule_with(hours={"mon": ["24:00-24:00"]}), r"impossible time"),
        (schedule_with(hours={"mon": ["17:00-09:00"]}), r"hours\.mon\[0\] '17:00-09:00' does not end after it starts"),
        (schedule_with(hours={"mon": ["09:00-09:00"]}), r"does not end after it starts"),
        (schedule_with(hours={"mon": ["22:00-00:00"]}), r"write 24:00 for midnight"),
        (schedule_with(hours={"mon": ["09:00-13:00", "12:00-17:00"]}), r"09:00-13:00 and 12:00-17:00 on mon overlap"),
        (schedule_with(hours={"mon": ["09:00-17:00", "09:00-17:00"]}), r"overlap"),
        (schedule_with(hours={"monday": ["09:00-17:00"]}), r"Unknown weekday 'monday'"),
        (schedule_with(hours={"mon": "09:00-17:00"}), r"hours\.mon must be a list of intervals"),
        (schedule_with(hours={}), r"never open"),
        (schedule_with(timezone="Europe/Berln"), r"Unknown time zone 'Europe/Berln'"),
        (schedule_with(timezone="../etc/passwd"), r"Unknown time zone"),
        (schedule_with(timezone=""), r"Unknown time zone"),
        (schedule_with(timezone=1), r"IANA name"),
        (schedule_with(holidays=["25.12.2026"]), r"holidays\[0\] is '25.12.2026'; write dates as 'YYYY-MM-DD'"),
        (schedule_with(holidays=["2026-02-30"]), r"holidays\[0\]"),
        (schedule_with(holidays="2026-12-25"), r"'holidays' must be a list"),
        (schedule_with(days={"mon": []}), r"Unknown schedule key\(s\) 'days'"),
        ({"hours": {"mon": ["09:00-17:00"]}}, r"no 'timezone'"),
        ({"timezone": "UTC"}, r"no 'hours'"),
        (["not", "a", "mapping"], r"A schedule is an object"),
        (schedule_with(hours={"mon": ["٠٩:٠٠-١٧:٠٠"]}), r"write an interval as 'HH:MM-HH:MM'"),
        (
            schedule_with(hours={"mon": [f"{h:02d}:00-{h:02d}:30" for h in range(24)] + ["23:30-24:00"]}),
            r"mon has 25 intervals; a day holds at most 24",
        ),
    ],
)
def test_from_dict_rejects_invalid_schedules(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessSchedule.from_dict(data)


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(ValueError, match="Unknown time zone"):
        BusinessSchedule("Nowhere/Land", weekdays((time(9), time(17))))
    with pytest.raises(ValueError, match="does not end after it starts"):
        BusinessSchedule("UTC", {0: [(time(17), time(9))]})
    with pytest.raises(ValueError, match="overlap"):
        BusinessSchedule("UTC", {0: [(time(9), time(13)), (time(12), time(0))]})
    with pytest.raises(ValueError, match="from 0 \\(Monday\\) to 6 \\(Sunday\\)"):
        BusinessSchedule("UTC", {7: [(time(9), time(17))]})
    with pytest.raises(ValueError, match="plain time of day"):
        BusinessSchedule("UTC", {0: [(time(9, tzinfo=UTC), time(17))]})
    with pytest.raises(ValueError, match="must be a date"):
        BusinessSchedule("UTC", {0: [(time(9), time(17))]}, frozenset({datetime(2026, 12, 25)}))
    # Touching intervals are fine, and the order they are given in does not matter for equality.
    a = BusinessSchedule("UTC", {0: [(time(13), time(17)), (time(9), time(13))]})
    b = BusinessSchedule("UTC", {0: [(time(9), time(13)), (time(13), time(17))], 5: []})
    assert a == b


def test_first_contact_counts_the_replies_up_to_the_solve_and_an_agents_opening_is_no_response() -> None:
    at = datetime(2026, 11, 16, 9, tzinfo=UTC)

    def facts(*events: tuple[str, int, str | None]) -> dict[str, Any]:
        timeline = [
            TimelineEvent(event_id=f"e{n}", kind=kind, occurred_at=at + timedelta(hours=hours), actor_type=actor)
            for n, (kind, hours, actor) in enumerate(events)
        ]
        return timeline_facts(timeline, schedule_for=lambda _: DEFAULT_SCHEDULE)

    created = ("ticket_created", 0, "customer")
    thanked = facts(created, ("agent_reply", 1, "agent"), ("solved", 2, "agent"), ("agent_reply", 3, "agent"))
    assert thanked["fcr"] is True and thanked["agent_replies"] == 2
    twice = facts(created, ("agent_reply", 1, "agent"), ("agent_reply", 2, "agent"), ("solved", 3, "agent"))
    assert twice["fcr"] is False
    # No creation event, and the first event is the agent's: nothing to time the first response from until the
    # customer writes; it used to be 0 h.
    outbound = facts(("agent_reply", 0, "agent"), ("customer_reply", 2, "customer"), ("agent_reply", 3, "agent"))
    due, answered = at + timedelta(hours=2), at + timedelta(hours=3)
    assert (outbound["reply_due_from"], outbound["first_reply_at"]) == (due, answered)
    assert outbound["frt_seconds"] == 3600


def test_decades_cost_no_more_than_a_month_and_add_up_exactly() -> None:
    """A ticket stamped 1970 and solved today: the whole months between its ends are worked out once and kept,
    and the figure is the day-by-day one (across both of Berlin's DST changes every year and a holiday)."""
    schedule = BusinessSchedule.from_dict(
        {
            "timezone": "Europe/Berlin",
            "hours": {"mon": ["09:00-17:00"], "sun": ["01:30-03:30"]},
            "holidays": ["2001-01-01"],
        }
    )
    start, end = datetime(1970, 1, 1, 5, tzinfo=UTC), datetime(2026, 12, 7, 13, 15, tzinfo=UTC)
    day_by_day = schedule._open_seconds(start, end, BERLIN)
    assert schedule.business_seconds(start, end) == pytest.approx(day_by_day, abs=1e-6)
    assert len(schedule._months) == 682  # every whole month between, each kept once
    for shift in range(0, 40 * 86_400, 86_400 * 7 + 3_601):  # ends moved: partial months, kept months
        a, b = start + timedelta(seconds=shift), end - timedelta(seconds=shift)
        assert schedule.business_seconds(a, b) == pytest.approx(schedule._open_seconds(a, b, BERLIN), abs=1e-6)


def test_a_start_in_the_hour_repeated_at_midnight_on_the_first_is_not_counted_twice() -> None:
    """Newfoundland's clocks fell back at 00:01 on 1 November 2009, so Oct 31 23:01–24:00 came twice: a start in the
    second pass comes after November began, and November is not a whole month from there."""
    zone = ZoneInfo("America/St_Johns")
    schedule = BusinessSchedule("America/St_Johns", {day: [(time(0), time(0))] for day in range(7)})
    for minutes in range(0, 240, 7):
        start = datetime(2009, 11, 1, 2, 0, tzinfo=UTC) + timedelta(minutes=minutes)
        end = start + timedelta(days=75)
        assert schedule.business_seconds(start, end) == pytest.approx(
            schedule._open_seconds(start, end, zone), abs=1e-6
        )
        assert schedule.business_seconds(start, end) == (end - start).total_seconds()  # open round the clock


def test_the_schedule_book_keeps_an_unchanged_schedule_and_its_worked_out_months(engine: Engine) -> None:
    from sqlmodel import Session

    from assistant.schedules.service import ScheduleBook, put_schedule

    book = ScheduleBook(engine, refresh_seconds=0)  # reloaded on every read
    with Session(engine) as session:
        put_schedule(session, "billing", {"timezone": "Europe/Berlin", "hours": {"mon": ["09:00-17:00"]}})
    first = book.get("billing")
    first.business_seconds(datetime(2020, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    assert book.get("billing") is first and first._months  # reloaded, equal: the same object, months kept
    with Session(engine) as session:
        put_schedule(session, "billing", {"timezone": "Europe/Berlin", "hours": {"tue": ["09:00-17:00"]}})
    changed = book.get("billing")
    assert changed is not first and changed.weekly == {1: ((time(9), time(17)),)} and not changed._months

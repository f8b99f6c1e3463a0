"""Business-hours arithmetic for support KPIs (first response and resolution times), stdlib only.

A schedule is a set of weekly opening intervals in one IANA time zone's wall-clock time, minus holidays. Every
interval becomes one span of real time: from the instant the local clock first shows its start to the instant it
first shows its end. That keeps durations honest across DST changes (01:00–04:00 on the night the clocks spring
forward is 2 h, a 00:00–24:00 day is 23 h or 25 h when the clocks change) and makes ``is_open`` agree with
``business_seconds``. A start or end that falls into the skipped hour counts from the jump, the first instant the
clock shows a later time.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MIDNIGHT = time(0, 0)
_DAY = timedelta(days=1)
_DAY_SECONDS = 24 * 3600
_KEYS = ("timezone", "hours", "holidays")
# "HH:MM" or "HH:MM:SS"; a hyphen or en dash between start and end, since schedules get pasted from documents.
# ASCII digits only: \d would also take other scripts' digits ("٠٩:٠٠").
_TIME = r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?"
_INTERVAL = re.compile(rf"\s*{_TIME}\s*[-–]\s*{_TIME}\s*")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Real opening hours have a few intervals a day; each costs a little in every duration worked out.
MAX_INTERVALS_A_DAY = 24


@dataclass(frozen=True)
class BusinessSchedule:
    """When a department is open: weekly wall-clock intervals in ``timezone``, closed on ``holidays``.

    ``weekly`` maps a weekday (0 = Monday … 6 = Sunday) to its open intervals ``(start, end)`` in local time, with
    ``start < end``. An end of ``time(0, 0)`` means midnight at the end of that day ("24:00"), the only way to keep
    a day open to its last second without losing a microsecond to ``time.max``. Missing weekdays are closed.
    Intervals may touch but not overlap; they are kept sorted, and closed days dropped, so equal schedules compare
    equal however they were written. ``holidays`` are local dates on which the schedule is closed all day.
    """

    timezone: str
    weekly: Mapping[int, Sequence[tuple[time, time]]] = field(hash=False)
    holidays: frozenset[date] = frozenset()
    # Open seconds of whole local months (first day of the month → seconds), worked out once each.
    _months: dict[date, float] = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.timezone, str):
            raise ValueError(f"The time zone must be an IANA name such as 'Europe/Berlin', not {self.timezone!r}.")
        _load_zone(self.timezone)
        if not isinstance(self.weekly, Mapping):
            raise ValueError("The weekly hours must map a weekday (0 = Monday … 6 = Sunday) to its open intervals.")
        weekly: dict[int, tuple[tuple[time, time], ...]] = {}
        for weekday, intervals in self.weekly.items():
            if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
                raise ValueError(f"Weekday {weekday!r} is not a number from 0 (Monday) to 6 (Sunday).")
            checked = _check_day(WEEKDAYS[weekday], intervals)
            if checked:
                weekly[weekday] = checked
        if not weekly:
            # A schedule that is never open reports every KPI as 0 business seconds, which reads as perfect service.
            raise ValueError("The schedule is never open: give at least one weekday some opening hours.")
        holidays = frozenset(self.holidays)
        for day in holidays:
            if isinstance(day, datetime) or not isinstance(day, date):
                raise ValueError(f"Holiday {day!r} must be a date (a whole local day), not a moment or text.")
        # Frozen: normalising goes through object.__setattr__, and a read-only view keeps the schedule immutable.
        object.__setattr__(self, "weekly", MappingProxyType(dict(sorted(weekly.items()))))
        object.__setattr__(self, "holidays", holidays)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BusinessSchedule:
        """Parse ``{"timezone": ..., "hours": {"mon": ["09:00-17:00"], ...}, "holidays": ["2026-12-25"]}``.

        Missing weekdays are closed, "24:00" is allowed as an end, ``holidays`` may be left out. Anything else that
        is unexpected raises ``ValueError`` with a sentence saying what is wrong and where.
        """
        if not isinstance(data, Mapping):
            raise ValueError("A schedule is an object with timezone, hours and holidays.")
        unknown = [key for key in data if key not in _KEYS]
        if unknown:
            raise ValueError(f"Unknown schedule key(s) {_listing(unknown)}; expected {_listing(_KEYS)}.")
        for key in ("timezone", "hours"):
            if key not in data:
                raise ValueError(f"The schedule has no {key!r}.")
        if not isinstance(data["timezone"], str):
            raise ValueError(f"'timezone' must be an IANA name such as 'Europe/Berlin', not {data['timezone']!r}.")
        hours = data["hours"]
        if not isinstance(hours, Mapping):
            raise ValueError("'hours' must map weekdays (mon … sun) to lists of intervals such as '09:00-17:00'.")
        weekly: dict[int, list[tuple[time, time]]] = {}
        for name, intervals in hours.items():
            if name not in WEEKDAYS:
                raise ValueError(f"Unknown weekday {name!r} in 'hours'; use {', '.join(WEEKDAYS)}.")
            if isinstance(intervals, str) or not isinstance(intervals, Sequence):
                raise ValueError(
                    f"hours.{name} must be a list of intervals such as ['09:00-17:00'], not {intervals!r}."
                )
            weekly[WEEKDAYS.index(name)] = [
                _parse_interval(f"hours.{name}[{i}]", text) for i, text in enumerate(intervals)
            ]
        return cls(timezone=data["timezone"], weekly=weekly, holidays=_parse_holidays(data.get("holidays", [])))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form ``from_dict`` reads: all seven weekdays (closed ones as ``[]``), holidays in date order."""
        return {
            "timezone": self.timezone,
            "hours": {
                name: [f"{_format(start)}-{_format(end, end=True)}" for start, end in self.weekly.get(weekday, ())]
                for weekday, name in enumerate(WEEKDAYS)
            },
            "holidays": [day.isoformat() for day in sorted(self.holidays)],
        }

    def business_seconds(self, start: datetime, end: datetime) -> float:
        """Seconds of open time in ``[start, end)``, real elapsed time; 0.0 when ``end <= start``.

        Both ends must be timezone-aware and may be in different zones: only the instants matter. The loop is per
        local day (a few zone conversions per open day) over the partial months at either end; the whole local
        months between are worked out once per schedule and kept, so a ticket open for decades (a creation time
        of 1970) costs as little as one open for a month.
        """
        start_utc, end_utc = _utc(start, "start"), _utc(end, "end")
        if end_utc <= start_utc:
            return 0.0
        zone = _load_zone(self.timezone)
        first, last = _next_month(start_utc.astimezone(zone).date()), end_utc.astimezone(zone).date().replace(day=1)
        # A start in the hour repeated when the clocks fall back at midnight on the 1st comes after that month began.
        while _month_start(first, zone) < start_utc:
            first = _next_month(first)
        if first >= last:
            return self._open_seconds(start_utc, end_utc, zone)
        # Open time is additive over adjacent spans: [start, first month) + whole months + [last month, end).
        total = self._open_seconds(start_utc, _month_start(first, zone), zone)
        month = first
        while month < last:
            if month not in self._months:
                self._months[month] = self._open_seconds(
                    _month_start(month, zone), _month_start(_next_month(month), zone), zone
                )
            total += self._months[month]
            month = _next_month(month)
        return total + self._open_seconds(_month_start(last, zone), end_utc, zone)

    def _open_seconds(self, start_utc: datetime, end_utc: datetime, zone: tzinfo) -> float:
        """Open seconds in ``[start_utc, end_utc)``, day by day."""
        total = timedelta()
        # A day's spans can reach just past its own local date (a midnight DST change), so look one day either side.
        day = start_utc.astimezone(zone).date() - _DAY
        last = end_utc.astimezone(zone).date() + _DAY
        while day <= last:
            for opens, closes in self._spans(day, zone):
                overlap = min(closes, end_utc) - max(opens, start_utc)
                if overlap > timedelta():
                    total += overlap
            day += _DAY
        return total.total_seconds()

    def is_open(self, moment: datetime) -> bool:
        """Whether ``moment`` (timezone-aware) falls in an open span; agrees with ``business_seconds``."""
        instant = _utc(moment, "moment")
        zone = _load_zone(self.timezone)
        local_day = instant.astimezone(zone).date()
        return any(
            opens <= instant < closes
            for day in (local_day - _DAY, local_day, local_day + _DAY)
            for opens, closes in self._spans(day, zone)
        )

    def _spans(self, day: date, zone: tzinfo) -> Iterator[tuple[datetime, datetime]]:
        """The real-time (UTC) spans of ``day``'s intervals; an interval lost in a DST gap yields none."""
        if day in self.holidays:
            return
        for start, end in self.weekly.get(day.weekday(), ()):
            closes_wall = datetime.combine(day + _DAY, MIDNIGHT) if end == MIDNIGHT else datetime.combine(day, end)
            opens = _first_instant(datetime.combine(day, start), zone)
            closes = _first_instant(closes_wall, zone)
            if opens < closes:
                yield opens, closes


def _next_month(day: date) -> date:
    """The first day of the month after ``day``'s."""
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def _month_start(first_day: date, zone: tzinfo) -> datetime:
    """The instant a month begins in ``zone``: the first its clock shows the first day's midnight, or later."""
    return _first_instant(datetime.combine(first_day, MIDNIGHT), zone)


def _load_zone(name: str) -> tzinfo:
    # ZoneInfo caches instances, so calling this per computation costs a dictionary lookup.
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        if name == "UTC":
            # Without system tz data (slim images, Windows) ZoneInfo knows no zone at all; UTC must still work,
            # since the default schedule is built when this module is imported.
            return UTC
    except (ValueError, OSError):
        pass
    raise ValueError(f"Unknown time zone {name!r}; use an IANA name such as 'Europe/Berlin' or 'UTC'.")


def _utc(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime):
        raise ValueError(f"The {what} must be a datetime, not {moment!r}.")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"The {what} {moment.isoformat()} has no time zone; business hours need real instants.")
    return moment.astimezone(UTC)


def _first_instant(wall: datetime, zone: tzinfo) -> datetime:
    """The first instant (UTC) at which the local clock of ``zone`` shows ``wall`` or later."""
    # fold=0 is the earlier of two repeated times, so an ambiguous wall time resolves to its first occurrence.
    instant = wall.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # ``wall`` is skipped by a forward jump. With fold=1 it resolves to an instant before the jump, with fold=0 to
    # one after it; the jump itself is the first instant showing a later time.
    before = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return _transition(min(before, instant), max(before, instant), zone)


def _transition(before: datetime, after: datetime, zone: tzinfo) -> datetime:
    """The instant in ``(before, after]`` at which ``zone``'s UTC offset changes; tz data uses whole seconds."""
    low, high = math.floor(before.timestamp()), math.ceil(after.timestamp())
    offset_before = datetime.fromtimestamp(low, zone).utcoffset()
    if datetime.fromtimestamp(high, zone).utcoffset() == offset_before:
        return after  # Not a plain forward jump (should not happen); the fold=0 reading is the best left.
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset_before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def _seconds(moment: time, *, end: bool) -> int:
    """Seconds since local midnight; an end of 00:00 is the midnight that closes the day."""
    seconds = moment.hour * 3600 + moment.minute * 60 + moment.second
    return _DAY_SECONDS if end and seconds == 0 else seconds


def _format(moment: time, *, end: bool = False) -> str:
    if end and moment == MIDNIGHT:
        return "24:00"
    return moment.strftime("%H:%M:%S" if moment.second else "%H:%M")


def _check_day(name: str, intervals: Any) -> tuple[tuple[time, time], ...]:
    """``intervals`` validated (times of day, start before end, no overlaps) and sorted by start."""
    if isinstance(intervals, str) or not isinstance(intervals, Iterable):
        raise ValueError(f"The hours for {name} must be a list of (start, end) times, not {intervals!r}.")
    checked: list[tuple[time, time]] = []
    intervals = list(intervals)
    if len(intervals) > MAX_INTERVALS_A_DAY:
        raise ValueError(
            f"{name} has {len(intervals)} intervals; a day holds at most {MAX_INTERVALS_A_DAY} "
            "(merge those that touch)."
        )
    for interval in intervals:
        if isinstance(interval, str) or not isinstance(interval, Sequence) or len(interval) != 2:
            raise ValueError(f"An interval on {name} must be a (start, end) pair of times, not {interval!r}.")
        start, end = interval
        for moment in (start, end):
            if not isinstance(moment, time) or moment.tzinfo is not None or moment.microsecond:
                raise ValueError(
                    f"{moment!r} on {name} is not a plain time of day in whole seconds; the schedule's time zone "
                    "applies to every interval."
                )
        if _seconds(start, end=False) >= _seconds(end, end=True):
            raise ValueError(
                f"The interval {_format(start)}-{_format(end, end=True)} on {name} does not end after it starts; an "
                "interval cannot run past midnight, so split overnight hours over two days (the first ending at "
                "midnight, time(0, 0))."
            )
        checked.append((start, end))
    checked.sort(key=lambda pair: (_seconds(pair[0], end=False), _seconds(pair[1], end=True)))
    for (start, end), (next_start, next_end) in itertools.pairwise(checked):
        if _seconds(next_start, end=False) < _seconds(end, end=True):
            raise ValueError(
                f"The intervals {_format(start)}-{_format(end, end=True)} and "
                f"{_format(next_start)}-{_format(next_end, end=True)} on {name} overlap; merge them or make them touch."
            )
    return tuple(checked)


def _parse_interval(where: str, text: Any) -> tuple[time, time]:
    match = _INTERVAL.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{where} is {text!r}; write an interval as 'HH:MM-HH:MM', e.g. '09:00-17:00'.")
    numbers = [int(part) if part else 0 for part in match.groups()]
    start, end = _parse_time(where, text, *numbers[:3], end=False), _parse_time(where, text, *numbers[3:], end=True)
    # time(0, 0) as an end means 24:00 in a schedule, but an interval written to end at "00:00" is more likely a
    # typo or an overnight shift than a deliberate midnight, so only "24:00" says midnight here.
    written_as_zero = numbers[3:] == [0, 0, 0]
    if written_as_zero or _seconds(start, end=False) >= _seconds(end, end=True):
        hint = " (write 24:00 for midnight)" if written_as_zero else ""
        raise ValueError(
            f"{where} {text!r} does not end after it starts{hint}; an interval cannot run past midnight, so split "
            "overnight hours over two days."
        )
    return start, end


def _parse_time(where: str, text: str, hour: int, minute: int, second: int, *, end: bool) -> time:
    if end and (hour, minute, second) == (24, 0, 0):
        return MIDNIGHT  # "24:00": the midnight that closes the day.
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"{where} {text!r} has an impossible time; times run from 00:00 to 23:59, or 24:00 as an end.")
    return time(hour, minute, second)


def _parse_holidays(holidays: Any) -> frozenset[date]:
    if isinstance(holidays, str) or not isinstance(holidays, Sequence):
        raise ValueError(f"'holidays' must be a list of dates such as ['2026-12-25'], not {holidays!r}.")
    parsed: set[date] = set()
    for i, value in enumerate(holidays):
        day = value if isinstance(value, date) and not isinstance(value, datetime) else None
        if isinstance(value, str) and _ISO_DATE.fullmatch(value):
            with contextlib.suppress(ValueError):  # well formed but impossible, like 2026-02-30
                day = date.fromisoformat(value)
        if day is None:
            raise ValueError(f"holidays[{i}] is {value!r}; write dates as 'YYYY-MM-DD', e.g. '2026-12-25'.")
        parsed.add(day)
    return frozenset(parsed)


def _listing(names: Iterable[Any]) -> str:
    return ", ".join(repr(name) for name in names)


DEFAULT_SCHEDULE = BusinessSchedule(timezone="UTC", weekly={day: [(time(9), time(17))] for day in range(5)})
"""Mon–Fri 09:00–17:00 UTC, no holidays: for departments with no schedule of their own."""

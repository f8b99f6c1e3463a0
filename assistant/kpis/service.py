"""Support KPIs over ``ticket_timings``: the database groups, counts, averages and ranks.

Three populations, as support leads read them: tickets *created* in the period (FRT, reopen and
transfer rates, those still awaiting a first reply), tickets *solved* in the period (first and
full resolution time, FCR) and survey responses *given* in the period (CSAT, CES, NPS), each joined
to its ticket's timings for the ticket's department, channel, agent and language. Medians and 90th
percentiles are nearest-rank, computed with window functions so that SQLite and PostgreSQL give the
same numbers.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, tzinfo
from enum import StrEnum
from itertools import pairwise
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlmodel import Session, col

from assistant.db import utcnow
from assistant.errors import InvalidInput
from assistant.events.models import TicketTiming
from assistant.surveys.models import SurveyResponse

HOUR = 3600.0
# A report's period lies in these bounds: a year 1 or 9999 would overflow as it is moved to UTC, or as a default
# period is counted back from it.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def moment(text: str, *, naive_zone: tzinfo | None = None) -> datetime:
    """An end of a report's period: a plain date is midnight UTC; a time needs its zone, or is taken in
    ``naive_zone`` where one is given (the CLI's times are UTC). ``ValueError`` with a sentence otherwise."""
    try:
        if len(text) == len("2026-11-01"):
            parsed = datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
        else:
            parsed = datetime.fromisoformat(text)
    except ValueError:
        zone = "" if naive_zone else " with a zone"
        raise ValueError(f"must be a date (2026-11-01) or a time{zone} (2026-11-01T00:00:00Z)") from None
    if parsed.tzinfo is None:
        if naive_zone is None:
            raise ValueError("needs a time zone, e.g. 2026-11-01T00:00:00Z")
        parsed = parsed.replace(tzinfo=naive_zone)
    if not EARLIEST <= parsed <= LATEST:
        raise ValueError("must lie between 1970 and 2200")
    return parsed


class GroupBy(StrEnum):
    all = "all"
    department = "department"
    channel = "channel"
    agent = "agent"
    language = "language"
    day = "day"
    week = "week"


HOURS = ("calendar", "business")
DURATIONS = {
    "frt": ("frt_seconds", "frt_business_seconds"),
    "first_resolution": ("first_resolution_seconds", "first_resolution_business_seconds"),
    "full_resolution": ("full_resolution_seconds", "full_resolution_business_seconds"),
}


def parse_group_by(raw: str) -> list[GroupBy]:
    """``department`` or several dimensions at once, ``department,week``."""
    try:
        dimensions = [GroupBy(part.strip()) for part in raw.split(",") if part.strip()]
    except ValueError:
        choices = ", ".join(g.value for g in GroupBy)
        raise InvalidInput(
            f"group_by takes one or more of: {choices} (comma-separated).", code="invalid_group_by"
        ) from None
    if not dimensions or len(set(dimensions)) != len(dimensions) or len(dimensions) > 3:
        raise InvalidInput("group_by takes one to three different dimensions.", code="invalid_group_by")
    if GroupBy.all in dimensions and len(dimensions) > 1:
        raise InvalidInput("'all' cannot be combined with other dimensions.", code="invalid_group_by")
    return dimensions


def _group(dimensions: list[GroupBy], population: str) -> list[ColumnElement[Any]]:
    columns: list[ColumnElement[Any]] = []
    for dimension in dimensions:
        if dimension == GroupBy.all:
            columns.append(literal("all"))
        elif dimension in (GroupBy.day, GroupBy.week) and population == "survey":
            columns.append(col(getattr(SurveyResponse, f"responded_{dimension.value}")))
        elif dimension in (GroupBy.day, GroupBy.week):
            prefix = "created" if population == "created" else "solved"
            columns.append(col(getattr(TicketTiming, f"{prefix}_{dimension.value}")))
        else:
            columns.append(col(getattr(TicketTiming, dimension.value)))
    return columns


def _created_in(start: datetime, end: datetime) -> ColumnElement[bool]:
    return (col(TicketTiming.created_at) >= start) & (col(TicketTiming.created_at) < end)


def _solved_in(start: datetime, end: datetime) -> ColumnElement[bool]:
    return (
        col(TicketTiming.solved)
        & (col(TicketTiming.last_solved_at) >= start)
        & (col(TicketTiming.last_solved_at) < end)
    )


def _population(
    session: Session,
    group: list[ColumnElement[Any]],
    where: ColumnElement[bool],
    durations: dict[str, ColumnElement[Any]],
    counts: dict[str, ColumnElement[Any]],
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """One pass over a population: per group the ``counts`` aggregates, and for each duration its count, mean,
    nearest-rank median and 90th percentile (in hours).

    Every duration is ranked within its group by a window over the same rows (NULLs last, so that the first
    ``n`` ranks are the ``n`` known values), and the outer aggregate picks ranks ceil(n/2) and ceil(9n/10).
    Counts are carried as 0/1 flags into the same scan, so that the table is read once per population.
    """
    labels = [f"g{i}" for i in range(len(group))]
    names = list(durations)
    base = (
        select(
            *(g.label(label) for g, label in zip(group, labels, strict=True)),
            *(value.label(f"v_{name}") for name, value in durations.items()),
            *(value.label(f"c_{name}") for name, value in counts.items()),
        )
        .where(where)
        .subquery()
    )
    keys = [base.c[label] for label in labels]
    ranked = select(
        base,
        *(
            func.row_number().over(partition_by=keys, order_by=base.c[f"v_{name}"].nulls_last()).label(f"r_{name}")
            for name in names
        ),
        *(func.count(base.c[f"v_{name}"]).over(partition_by=keys).label(f"n_{name}") for name in names),
    ).subquery()
    ranked_keys = [ranked.c[label] for label in labels]
    columns: list[ColumnElement[Any]] = [func.count()]
    for name in counts:
        value = ranked.c[f"c_{name}"]
        columns.append(func.min(value) if name == "oldest" else func.sum(value))
    for name in names:
        value, rank, known = ranked.c[f"v_{name}"], ranked.c[f"r_{name}"], ranked.c[f"n_{name}"]
        columns += [
            func.count(value),
            func.avg(value),
            func.max(case((rank == (known + 1) // 2, value))),
            func.max(case((rank == (known * 9 + 9) // 10, value))),
        ]
    width = len(group)
    result: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in session.execute(select(*ranked_keys, *columns).group_by(*ranked_keys)).all():
        figures: dict[str, Any] = {"rows": int(row[width])}
        position = width + 1
        for name in counts:
            figures[name] = row[position]
            position += 1
        for name in names:
            count, mean, median, p90 = row[position : position + 4]
            figures[name] = {"count": int(count), "mean": _hours(mean), "median": _hours(median), "p90": _hours(p90)}
            position += 4
        result[tuple(row[:width])] = figures
    return result


def _surveys(
    session: Session, group: list[ColumnElement[Any]], start: datetime, end: datetime
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Per group: responses, and for each score its count and what the score's KPI needs (CSAT 4–5,
    NPS promoters 9–10 and detractors 0–6, CES mean). A response whose ticket has no timings keeps
    NULL ticket dimensions: it counts in ``all`` and by day/week, and in the unknown group otherwise."""
    csat, ces, nps = col(SurveyResponse.csat), col(SurveyResponse.ces), col(SurveyResponse.nps)
    joined = SurveyResponse.__table__.outerjoin(  # type: ignore[attr-defined]
        TicketTiming.__table__,  # type: ignore[attr-defined]
        and_(
            col(TicketTiming.source) == col(SurveyResponse.source),
            col(TicketTiming.ticket_id) == col(SurveyResponse.ticket_id),
        ),
    )
    query = (
        select(
            *group,
            func.count(),
            func.count(csat),
            func.sum(_flag(csat >= 4)),
            func.count(ces),
            func.avg(ces),
            func.count(nps),
            func.sum(_flag(nps >= 9)),
            func.sum(_flag(nps <= 6)),
        )
        .select_from(joined)
        .where(col(SurveyResponse.responded_at) >= start, col(SurveyResponse.responded_at) < end)
        .group_by(*group)
    )
    width = len(group)
    result: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in session.execute(query).all():
        responses, csat_n, satisfied, ces_n, ces_mean, nps_n, promoters, detractors = row[width:]
        result[tuple(row[:width])] = {
            "survey_responses": int(responses),
            "csat_responses": int(csat_n),
            "csat_rate": round(int(satisfied or 0) / csat_n, 4) if csat_n else None,
            "ces_responses": int(ces_n),
            "ces_mean": None if ces_mean is None else round(float(ces_mean), 4),
            "nps_responses": int(nps_n),
            "nps": round(100.0 * (int(promoters or 0) - int(detractors or 0)) / nps_n, 2) if nps_n else None,
        }
    return result


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def _hours(seconds: Any) -> float | None:
    return None if seconds is None else round(float(seconds) / HOUR, 4)


def compute_kpis(session: Session, *, start: datetime, end: datetime, group_by: list[GroupBy]) -> dict[str, Any]:
    if end <= start:
        raise InvalidInput("'to' must be later than 'from'.", code="invalid_period")
    created_group, solved_group = _group(group_by, "created"), _group(group_by, "solved")
    created_where, solved_where = _created_in(start, end), _solved_in(start, end)
    as_of = min(end, utcnow())
    # Waiting at the end of the period (or now): not yet answered then, and not solved by then either.
    awaiting = (
        col(TicketTiming.reply_due_from).is_not(None)
        & (col(TicketTiming.reply_due_from) < as_of)
        & (col(TicketTiming.first_reply_at).is_(None) | (col(TicketTiming.first_reply_at) >= as_of))
        & (col(TicketTiming.first_solved_at).is_(None) | (col(TicketTiming.first_solved_at) >= as_of))
    )
    created = _population(
        session,
        created_group,
        created_where,
        {
            f"frt:{hours}": col(getattr(TicketTiming, column))
            for hours, column in zip(HOURS, DURATIONS["frt"], strict=True)
        },
        {
            "reopened": _flag(col(TicketTiming.reopens) > 0),
            "transferred": _flag(col(TicketTiming.transfers) > 0),
            "awaiting": _flag(awaiting),
            "oldest": case((awaiting, col(TicketTiming.reply_due_from))),
        },
    )
    solved = _population(
        session,
        solved_group,
        solved_where,
        {
            f"{name}:{hours}": col(getattr(TicketTiming, column))
            for name in ("first_resolution", "full_resolution")
            for hours, column in zip(HOURS, DURATIONS[name], strict=True)
        },
        {"fcr": _flag(col(TicketTiming.fcr))},
    )
    surveys = _surveys(session, _group(group_by, "survey"), start, end)
    width = len(group_by)
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}

    def entry(key: tuple[Any, ...]) -> dict[str, Any]:
        if key not in groups:
            groups[key] = _empty_group(key[0] if width == 1 else " / ".join(str(k) for k in key))
            groups[key]["keys"] = {d.value: k for d, k in zip(group_by, key, strict=True)}
        return groups[key]

    for key, figures in created.items():
        row = entry(key)
        count = figures["rows"]
        row["tickets_created"] = count
        row["reopen_rate"] = round(int(figures["reopened"] or 0) / count, 4)
        row["transfer_rate"] = round(int(figures["transferred"] or 0) / count, 4)
        row["awaiting_first_reply"] = int(figures["awaiting"] or 0)
        oldest = figures["oldest"]
        if oldest is not None:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=as_of.tzinfo)
            row["oldest_awaiting_hours"] = round((as_of - oldest).total_seconds() / HOUR, 4)
    for key, figures in solved.items():
        row = entry(key)
        row["tickets_solved"] = figures["rows"]
        row["fcr_rate"] = round(int(figures["fcr"] or 0) / figures["rows"], 4)
    for key, figures in surveys.items():
        entry(key).update(figures)
    for key, figures in (*created.items(), *solved.items()):
        for name in figures:
            if ":" in name:
                duration, hours = name.split(":")
                entry(key)[duration][f"{hours}_hours"] = figures[name]
    ordered = [groups[key] for key in sorted(groups, key=lambda k: tuple((v is None, str(v)) for v in k))]
    return {
        "from": start,
        "to": end,
        "as_of": as_of,
        "group_by": ",".join(d.value for d in group_by),
        "groups": ordered,
    }


# Upper bounds (hours) of the histogram's buckets: what a support lead reads at a glance.
BUCKETS = (1.0, 4.0, 8.0, 24.0, 72.0)


def bucket_labels() -> list[str]:
    edges = [0.0, *BUCKETS]
    labels = [f"{_span(low)}–{_span(high)}" for low, high in pairwise(edges)]
    return [*labels, f"> {_span(BUCKETS[-1])}"]


def _span(hours: float) -> str:
    return f"{hours / 24:g} d" if hours >= 24 else f"{hours:g} h"


def compute_distribution(
    session: Session, *, start: datetime, end: datetime, group_by: list[GroupBy], metric: str, business: bool
) -> dict[str, Any]:
    """How many tickets fall in each duration bucket, per group: the shape behind a median."""
    if end <= start:
        raise InvalidInput("'to' must be later than 'from'.", code="invalid_period")
    if metric not in DURATIONS:
        raise InvalidInput(f"metric is one of: {', '.join(DURATIONS)}.", code="invalid_metric")
    population = "created" if metric == "frt" else "solved"
    group = _group(group_by, population)
    where = _created_in(start, end) if population == "created" else _solved_in(start, end)
    value = col(getattr(TicketTiming, DURATIONS[metric][1 if business else 0]))
    bucket = case(*((value < bound * HOUR, index) for index, bound in enumerate(BUCKETS)), else_=len(BUCKETS)).label(
        "bucket"
    )
    rows = session.execute(
        select(*group, bucket, func.count()).where(where, value.is_not(None)).group_by(*group, bucket)
    ).all()
    width = len(group_by)
    labels = bucket_labels()
    groups: dict[tuple[Any, ...], list[int]] = {}
    for row in rows:
        counts = groups.setdefault(tuple(row[:width]), [0] * len(labels))
        counts[int(row[width])] = int(row[width + 1])
    ordered = sorted(groups, key=lambda k: tuple((v is None, str(v)) for v in k))
    return {
        "from": start,
        "to": end,
        "metric": metric,
        "hours": "business" if business else "calendar",
        "group_by": ",".join(d.value for d in group_by),
        "buckets": labels,
        "groups": [
            {
                "group": key[0] if width == 1 else " / ".join(str(k) for k in key),
                "keys": {d.value: k for d, k in zip(group_by, key, strict=True)},
                "counts": groups[key],
                "total": sum(groups[key]),
            }
            for key in ordered
        ],
    }


def _empty_group(key: Any) -> dict[str, Any]:
    empty = {"count": 0, "mean": None, "median": None, "p90": None}
    return {
        "group": key,
        "tickets_created": 0,
        "tickets_solved": 0,
        **{name: {"calendar_hours": dict(empty), "business_hours": dict(empty)} for name in DURATIONS},
        "fcr_rate": None,
        "reopen_rate": None,
        "transfer_rate": None,
        "awaiting_first_reply": 0,
        "oldest_awaiting_hours": None,
        **{name: 0 if name.endswith("responses") else None for name in SURVEY_FIGURES},
    }


COUNTS = ["tickets_created", "tickets_solved"]
RATES = ["fcr_rate", "reopen_rate", "transfer_rate", "awaiting_first_reply", "oldest_awaiting_hours"]
STATS = ("count", "mean", "median", "p90")
SURVEY_FIGURES = [
    "survey_responses",
    "csat_responses",
    "csat_rate",
    "ces_responses",
    "ces_mean",
    "nps_responses",
    "nps",
]


def flatten(group: dict[str, Any]) -> dict[str, Any]:
    """One CSV row: ``frt_business_hours_median`` and the like."""
    flat = {**group.get("keys", {"group": group["group"]}), **{name: group[name] for name in COUNTS}}
    for name in DURATIONS:
        for hours in ("calendar_hours", "business_hours"):
            for stat in STATS:
                flat[f"{name}_{hours}_{stat}"] = group[name][hours][stat]
    flat.update({name: group[name] for name in (*RATES, *SURVEY_FIGURES)})
    return flat


def kpis_csv(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    rows = [flatten(group) for group in report["groups"]]
    columns = list(rows[0]) if rows else list(flatten(_empty_group(None)))
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else spreadsheet_safe(v) for k, v in row.items()})
    return buffer.getvalue()


# A spreadsheet reads a cell starting with one of these as a formula: a department or an agent id sent in an event
# as "=HYPERLINK(…)" would run when a lead opens the export.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """Text that would start a formula, after a leading apostrophe (shown as text: OWASP's advice); numbers as is."""
    return f"'{value}" if isinstance(value, str) and value.startswith(_FORMULA_STARTS) else value

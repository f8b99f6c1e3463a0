"""Support KPIs over ``ticket_timings``: the database groups, counts, averages and ranks.

Two populations, as support leads read them: tickets *created* in the period (FRT, reopen and
transfer rates, those still awaiting a first reply) and tickets *solved* in the period (first and
full resolution time, FCR). Medians and 90th percentiles are nearest-rank, computed with window
functions so that SQLite and PostgreSQL give the same numbers.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, select
from sqlmodel import Session, col

from assistant.db import utcnow
from assistant.errors import InvalidInput
from assistant.events.models import TicketTiming

HOUR = 3600.0


class GroupBy(StrEnum):
    all = "all"
    department = "department"
    channel = "channel"
    agent = "agent"
    language = "language"
    day = "day"
    week = "week"


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


def _distribution(
    session: Session, group: list[ColumnElement[Any]], value: ColumnElement[Any], where: ColumnElement[bool]
) -> dict[tuple[Any, ...], dict[str, float | int | None]]:
    """Per group: count, mean, nearest-rank median and 90th percentile of ``value`` (in hours)."""
    labels = [f"g{i}" for i in range(len(group))]
    base = select(*(g.label(name) for g, name in zip(group, labels, strict=True)), value.label("v"))
    base_query = base.where(where, value.is_not(None)).subquery()
    keys = [base_query.c[name] for name in labels]
    ranked = select(
        *keys,
        base_query.c.v,
        func.row_number().over(partition_by=keys, order_by=base_query.c.v).label("rn"),
        func.count().over(partition_by=keys).label("n"),
    ).subquery()
    ranked_keys = [ranked.c[name] for name in labels]
    query = select(
        *ranked_keys,
        func.count(),
        func.avg(ranked.c.v),
        func.max(case((ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.v))),
        func.max(case((ranked.c.rn == (ranked.c.n * 9 + 9) // 10, ranked.c.v))),
    ).group_by(*ranked_keys)
    width = len(group)
    return {
        tuple(row[:width]): {
            "count": int(row[width]),
            "mean": _hours(row[width + 1]),
            "median": _hours(row[width + 2]),
            "p90": _hours(row[width + 3]),
        }
        for row in session.execute(query).all()
    }


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
    width = len(group_by)
    created_counts = session.execute(
        select(
            *created_group,
            func.count(),
            func.sum(case((col(TicketTiming.reopens) > 0, 1), else_=0)),
            func.sum(case((col(TicketTiming.transfers) > 0, 1), else_=0)),
            func.sum(case((awaiting, 1), else_=0)),
            func.min(case((awaiting, col(TicketTiming.reply_due_from)))),
        )
        .where(created_where)
        .group_by(*created_group)
    ).all()
    solved_counts = session.execute(
        select(*solved_group, func.count(), func.sum(case((col(TicketTiming.fcr), 1), else_=0)))
        .where(solved_where)
        .group_by(*solved_group)
    ).all()
    distributions: dict[str, dict[Any, dict[str, Any]]] = {}
    for name, (calendar, business) in DURATIONS.items():
        group, where = (created_group, created_where) if name == "frt" else (solved_group, solved_where)
        distributions[f"{name}:calendar"] = _distribution(session, group, col(getattr(TicketTiming, calendar)), where)
        distributions[f"{name}:business"] = _distribution(session, group, col(getattr(TicketTiming, business)), where)

    groups: dict[tuple[Any, ...], dict[str, Any]] = {}

    def entry(key: tuple[Any, ...]) -> dict[str, Any]:
        if key not in groups:
            groups[key] = _empty_group(key[0] if width == 1 else " / ".join(str(k) for k in key))
            groups[key]["keys"] = {d.value: k for d, k in zip(group_by, key, strict=True)}
        return groups[key]

    for result in created_counts:
        key, (created, reopened, transferred, waiting, oldest) = tuple(result[:width]), result[width:]
        row = entry(key)
        row["tickets_created"] = int(created)
        row["reopen_rate"] = round(int(reopened or 0) / created, 4) if created else None
        row["transfer_rate"] = round(int(transferred or 0) / created, 4) if created else None
        row["awaiting_first_reply"] = int(waiting or 0)
        if oldest is not None:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=as_of.tzinfo)
            row["oldest_awaiting_hours"] = round((as_of - oldest).total_seconds() / HOUR, 4)
    for result in solved_counts:
        key, (solved, fcr) = tuple(result[:width]), result[width:]
        row = entry(key)
        row["tickets_solved"] = int(solved)
        row["fcr_rate"] = round(int(fcr or 0) / solved, 4) if solved else None
    for name, by_group in distributions.items():
        duration, hours = name.split(":")
        for key, stats in by_group.items():
            entry(key)[duration][f"{hours}_hours"] = stats
    ordered = [groups[key] for key in sorted(groups, key=lambda k: tuple((v is None, str(v)) for v in k))]
    return {
        "from": start,
        "to": end,
        "as_of": as_of,
        "group_by": ",".join(d.value for d in group_by),
        "groups": ordered,
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
    }


COUNTS = ["tickets_created", "tickets_solved"]
RATES = ["fcr_rate", "reopen_rate", "transfer_rate", "awaiting_first_reply", "oldest_awaiting_hours"]
STATS = ("count", "mean", "median", "p90")


def flatten(group: dict[str, Any]) -> dict[str, Any]:
    """One CSV row: ``frt_business_hours_median`` and the like."""
    flat = {**group.get("keys", {"group": group["group"]}), **{name: group[name] for name in COUNTS}}
    for name in DURATIONS:
        for hours in ("calendar_hours", "business_hours"):
            for stat in STATS:
                flat[f"{name}_{hours}_{stat}"] = group[name][hours][stat]
    flat.update({name: group[name] for name in RATES})
    return flat


def kpis_csv(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    rows = [flatten(group) for group in report["groups"]]
    columns = list(rows[0]) if rows else list(flatten(_empty_group(None)))
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()

"""Deflection: portal searches after which the same customer opened no ticket within the window.

Only searches that name a customer reference can be followed; the others are counted, not judged. A
search is judged once its window has passed (before that a ticket may still come): the rate is the
share of judged searches with no ticket from the same customer reference created in
``[searched_at, searched_at + window)``. Each search counts on its own: a customer who searches three
times and then writes in counts three undeflected searches.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, case, exists, func, insert, literal, select, update
from sqlmodel import Session, col

from assistant.db import BatchWriter, utcnow
from assistant.errors import InvalidInput
from assistant.events.timeline import day_and_week
from assistant.insights.models import PortalSearchLog
from assistant.tickets.models import Ticket
from knowledge.pii import mask_pii

log = logging.getLogger("assistant")
GROUPS = ("day", "week", "all")
MAX_QUERY_CHARS = 1_000


@dataclass(frozen=True)
class PortalSearchRecord:
    """One portal search as it happened, before its query is masked and stored."""

    query: str
    customer_ref: str | None
    results: int
    top_score: float | None
    top_faq_id: int | None
    searched_at: datetime = field(default_factory=utcnow)


def stage_searches(session: Session, records: list[PortalSearchRecord]) -> list[None]:
    """Add logged searches to the session's transaction (one statement), queries PII-masked."""
    rows = []
    for record in records:
        moment = record.searched_at.astimezone(UTC)
        day, week = day_and_week(moment)
        rows.append(
            {
                "searched_at": moment,
                "searched_day": day,
                "searched_week": week,
                "customer_ref": record.customer_ref,
                "query": mask_pii(record.query)[:MAX_QUERY_CHARS],
                "results": record.results,
                "top_score": record.top_score,
                "top_faq_id": record.top_faq_id,
            }
        )
    # The table, not the entity: a plain Core insert, without the ORM bulk path's per-row work on the writer thread.
    session.execute(insert(PortalSearchLog.__table__), rows)
    return [None] * len(records)


class SearchLog(BatchWriter[PortalSearchRecord, None]):
    """Logs portal searches off the request path: no answer waits for its log, and the searches of a busy
    minute share a few commits instead of taking a handler thread and a commit each. ``flush`` before
    reading the log where this process's latest searches must count (an erasure, a deflection report)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, name="search-log", stage_batch=stage_searches)

    def record(self, record: PortalSearchRecord) -> None:
        """Hand the search over; a failure to log it is logged, never the customer's."""
        self.submit(record).add_done_callback(_report_failure)


def _report_failure(future: Future[None]) -> None:
    if future.exception() is not None:
        log.error("could not log a portal search", exc_info=future.exception())


def scrub_customer_searches(session: Session, customer_ref: str) -> int:
    """For an erasure (in the caller's transaction): the customer's searches keep their time and outcome but
    lose the query and the reference; they then count as unattributed."""
    result = session.execute(
        update(PortalSearchLog)
        .where(col(PortalSearchLog.customer_ref) == customer_ref)
        .values(customer_ref=None, query="")
    )
    return int(result.rowcount or 0)


def _ticket_followed(session: Session, window: timedelta) -> ColumnElement[bool]:
    search, ticket = PortalSearchLog, Ticket
    if session.get_bind().dialect.name == "sqlite":
        # SQLite stores UTC text; julianday() reads it, and a day is the unit.
        within = func.julianday(col(ticket.created_at)) < func.julianday(col(search.searched_at)) + (
            window.total_seconds() / 86_400
        )
    else:
        within = col(ticket.created_at) < col(search.searched_at) + func.make_interval(
            0, 0, 0, 0, 0, 0, window.total_seconds()
        )
    return exists(
        select(literal(1)).where(
            col(ticket.customer_ref) == col(search.customer_ref),
            col(ticket.created_at) >= col(search.searched_at),
            within,
        )
    )


def deflection_report(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    window_hours: float,
    group_by: str = "day",
    now: datetime | None = None,
) -> dict[str, Any]:
    if end <= start:
        raise InvalidInput("'to' must be later than 'from'.", code="invalid_period")
    if group_by not in GROUPS:
        raise InvalidInput(f"group_by is one of: {', '.join(GROUPS)}.", code="invalid_group_by")
    if window_hours <= 0:
        raise InvalidInput("The deflection window must be positive.", code="invalid_window")
    window = timedelta(hours=window_hours)
    cutoff = (now or utcnow()) - window
    search = PortalSearchLog
    attributed = col(search.customer_ref).is_not(None)
    judged = attributed & (col(search.searched_at) <= cutoff)
    deflected = judged & ~_ticket_followed(session, window)
    group: ColumnElement[Any] = literal("all") if group_by == "all" else col(getattr(search, f"searched_{group_by}"))
    rows = session.execute(
        select(
            group,
            func.count(),
            func.sum(case((attributed, 1), else_=0)),
            func.sum(case((judged, 1), else_=0)),
            func.sum(case((deflected, 1), else_=0)),
            func.sum(case((col(search.results) == 0, 1), else_=0)),
        )
        .where(col(search.searched_at) >= start, col(search.searched_at) < end)
        .group_by(group)
        .order_by(group)
    ).all()
    groups = [_figures(str(row[0]), *(int(v or 0) for v in row[1:])) for row in rows]
    totals = [sum(g[name] for g in groups) for name in ("searches", "attributed", "judged", "deflected", "no_answer")]
    return {
        "from": start,
        "to": end,
        "window_hours": window_hours,
        "group_by": group_by,
        "total": _figures("all", *totals),
        "groups": groups,
    }


def _figures(
    period: str, searches: int, attributed: int, judged: int, deflected: int, no_answer: int
) -> dict[str, Any]:
    return {
        "period": period,
        "searches": searches,
        "attributed": attributed,
        "judged": judged,
        "pending": attributed - judged,
        "deflected": deflected,
        "deflection_rate": round(deflected / judged, 4) if judged else None,
        "no_answer": no_answer,
    }

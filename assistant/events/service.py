"""Taking in interaction events (idempotent by source + event id) and keeping each ticket's timings current."""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Table, bindparam, delete, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from assistant.db import utcnow, write_lock
from assistant.events.models import (
    ActorType,
    EventCreate,
    EventKind,
    EventsAccepted,
    InteractionEvent,
    TicketTiming,
)
from assistant.events.timeline import TimelineEvent, timeline_facts
from assistant.schedules.service import ScheduleBook
from assistant.tickets.models import CONSOLE_SOURCE, Channel, Ticket
from knowledge.pii import mask_pii

TicketKey = tuple[str, str]  # (source, the ticketing system's ticket id)
# Parameters per IN (...) list: far below every supported database's limit.
CHUNK = 500
EVENTS: Table = InteractionEvent.__table__  # type: ignore[attr-defined]
TIMINGS: Table = TicketTiming.__table__  # type: ignore[attr-defined]


def event_rows(events: Sequence[EventCreate], mask: Callable[[str], str]) -> list[dict[str, Any]]:
    now = utcnow()
    return [
        {
            "source": e.source,
            "event_id": e.event_id,
            "ticket_id": e.ticket_id,
            "kind": e.kind.value,
            "occurred_at": e.occurred_at,
            "actor_type": e.actor_type.value if e.actor_type else None,
            "actor_id": e.actor_id,
            "channel": e.channel.value if e.channel else None,
            "department": e.department,
            "text": mask(e.text) if e.text else None,
            "received_at": now,
        }
        for e in events
    ]


def store_events(
    session: Session, events: Sequence[EventCreate], *, mask: Callable[[str], str], exact: bool = True
) -> tuple[int, set[TicketKey]]:
    """Insert the events not seen before (in the caller's transaction); returns how many and their tickets.

    ``exact``: an event that a concurrent delivery stores between the check and the insert is left to it, and
    not counted here (RETURNING names the rows this statement inserted). Without it (a bulk import, the one
    writer of its events), it is counted as if inserted: RETURNING cost PostgreSQL three quarters of its rate
    (46,000 → 11,000 events a second in batches of 5,000)."""
    unique: dict[tuple[str, str], EventCreate] = {}
    for event in events:
        unique.setdefault((event.source, event.event_id), event)
    known: set[tuple[str, str]] = set()
    for source, event_ids in by_source(unique):
        known.update(
            (source, event_id)
            for event_id in session.execute(
                select(InteractionEvent.event_id).where(
                    InteractionEvent.source == source, col(InteractionEvent.event_id).in_(event_ids)
                )
            ).scalars()
        )
    fresh = [event for key, event in unique.items() if key not in known]
    if not fresh:
        return 0, set()
    statement = upsert_insert(session, EVENTS).on_conflict_do_nothing(index_elements=["source", "event_id"])
    if not exact:
        session.execute(statement, event_rows(fresh, mask))
        return len(fresh), {(event.source, event.ticket_id) for event in fresh}
    returning = statement.returning(EVENTS.c.source, EVENTS.c.event_id)
    inserted = {(source, event_id) for source, event_id in session.execute(returning, event_rows(fresh, mask))}
    stored = [event for event in fresh if (event.source, event.event_id) in inserted]
    return len(stored), {(event.source, event.ticket_id) for event in stored}


def ingest_events(
    session: Session, events: Sequence[EventCreate], *, schedules: ScheduleBook, mask: Callable[[str], str]
) -> EventsAccepted:
    """Store new events and bring their tickets' timings up to date, in one transaction."""
    with write_lock(session):
        accepted, tickets = store_events(session, events, mask=mask)
        recompute_timings(session, tickets, schedules=schedules)
        session.commit()
    return EventsAccepted(accepted=accepted, duplicates=len(events) - accepted, tickets=len(tickets))


def recompute_timings(session: Session, tickets: Iterable[TicketKey], *, schedules: ScheduleBook) -> int:
    """Recompute the timings of these tickets from all their stored events and, for those the ticket webhook
    delivered, the ticket's own created time, language, department and channel (in the caller's transaction)."""
    keys = sorted(set(tickets))
    if not keys:
        return 0
    _lock_tickets(session, keys)
    done = 0
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        events: dict[TicketKey, list[TimelineEvent]] = {key: [] for key in chunk}
        # Plain rows, not ORM objects: a bulk import recomputes hundreds of thousands of tickets.
        for key, fields in _rows_by_ticket(session, _TIMELINE_EVENTS, chunk):
            events[key].append(TimelineEvent(*fields))
        routed = _routing(session, chunk)
        if missing := [key for key in chunk if key not in routed]:
            routed.update(_erased_routing(session, missing))
        # A ticket no event has named yet is timed only if its source sends events at all: a desk that routes
        # through the service but sends no events has no KPIs here, rather than every ticket awaiting a reply.
        timed_sources = {
            source
            for source in {key[0] for key, timeline in events.items() if not timeline and key in routed}
            if session.execute(_ANY_EVENT, {"source": source}).first() is not None
        }
        now = utcnow()
        rows = []
        for key, timeline in events.items():
            routing = routed.get(key, _NOT_ROUTED)
            creation = None
            if routing.created_at is not None and (timeline or key[0] in timed_sources):
                creation = ticket_creation(timeline, routing.created_at, stamped=routing.stamped)
                if creation is not None:
                    timeline = events[key] = [creation, *timeline]
            if not timeline:
                continue
            facts = timeline_facts(
                timeline,
                schedule_for=schedules.get,
                fallback_department=routing.department,
                fallback_channel=routing.channel,
            )
            rows.append(
                {
                    "source": key[0],
                    "ticket_id": key[1],
                    "language": routing.language,
                    "routed": key in routed,
                    "ticket_created_at": creation.occurred_at if creation is not None else None,
                    "updated_at": now,
                    **facts,
                }
            )
        # Upsert rather than delete and insert: most tickets already have a row, and their ids stay put.
        if rows:
            session.execute(_timings_upsert(session.get_bind().dialect.name, tuple(rows[0])), rows)
        for source, ticket_ids in by_source([key for key, timeline in events.items() if not timeline]):
            session.execute(delete(TIMINGS).where(TIMINGS.c.source == source, TIMINGS.c.ticket_id.in_(ticket_ids)))
        done += len(rows)
    return done


def _lock_tickets(session: Session, tickets: Iterable[TicketKey]) -> None:
    """Serialise, across processes, the transactions that recompute these tickets' timings, until the caller's
    transaction ends: one that waited then reads what the other committed (the ticket writer's new ticket, or
    the events webhook's events). A no-op on SQLite, whose writers are serialised already."""
    if session.get_bind().dialect.name == "postgresql":
        # Locks taken in ascending order cannot deadlock.
        session.execute(
            text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS t(k)"),
            {"keys": sorted({_lock_key(key) for key in tickets})},
        )


# Tickets stored before the writer stamped both times with one clock reading got them a few ms apart; a sent created
# time within a second of its receipt makes no difference either way.
STAMP_TOLERANCE = timedelta(seconds=1)


class Routing(NamedTuple):
    """What a recomputation of timings reads from a ticket the service routed."""

    department: str | None
    channel: str | None
    language: str | None
    created_at: datetime | None
    stamped: bool  # the created time was stamped on receipt: none was sent


_NOT_ROUTED = Routing(None, None, None, None, stamped=False)


def _rows_by_ticket(session: Session, statement: Any, keys: Sequence[TicketKey]) -> Iterator[tuple[TicketKey, Any]]:
    """Each row of ``statement`` (bound by ``source`` and ``ticket_ids``; the ticket's id first) with its ticket's
    key, and the row's other columns."""
    for source, ticket_ids in by_source(keys):
        for ticket_id, *fields in session.execute(statement, {"source": source, "ticket_ids": ticket_ids}).all():
            yield (source, ticket_id), fields


def _routing(session: Session, keys: Sequence[TicketKey]) -> dict[TicketKey, Routing]:
    """The tickets the service itself routed."""
    return {
        key: Routing(department, channel, language, created_at, abs(created_at - received_at) < STAMP_TOLERANCE)
        for key, (department, channel, language, created_at, received_at) in _rows_by_ticket(
            session, _ROUTED_TICKETS, keys
        )
    }


def _erased_routing(session: Session, keys: Sequence[TicketKey]) -> dict[TicketKey, Routing]:
    """Routed tickets erased since, as their timings kept them: erasure deletes the ticket but not its timings,
    which hold no customer data and without it would lose their created time and language. The created time is
    the one the timings counted from (none where the events alone timed the ticket)."""
    return {key: Routing(*fields, stamped=False) for key, fields in _rows_by_ticket(session, _ERASED_TICKETS, keys)}


# Built once: every delivered ticket's timings are recomputed before its answer, and building these statements
# each time cost more than running them (a lone ticket's commit, in-process on SQLite, median of 1,000: 1.87 ms
# built each time, 1.16 ms built once).
_TIMELINE_EVENTS = select(
    InteractionEvent.ticket_id,
    InteractionEvent.event_id,
    InteractionEvent.kind,
    InteractionEvent.occurred_at,
    InteractionEvent.actor_type,
    InteractionEvent.actor_id,
    InteractionEvent.channel,
    InteractionEvent.department,
).where(
    col(InteractionEvent.source) == bindparam("source"),
    col(InteractionEvent.ticket_id).in_(bindparam("ticket_ids", expanding=True)),
)
_ANY_EVENT = select(InteractionEvent.id).where(col(InteractionEvent.source) == bindparam("source")).limit(1)
_ROUTED_TICKETS = select(
    Ticket.external_id, Ticket.department, Ticket.channel, Ticket.language, Ticket.created_at, Ticket.received_at
).where(col(Ticket.source) == bindparam("source"), col(Ticket.external_id).in_(bindparam("ticket_ids", expanding=True)))

_ERASED_TICKETS = select(
    TicketTiming.ticket_id,
    TicketTiming.department,
    TicketTiming.channel,
    TicketTiming.language,
    TicketTiming.ticket_created_at,
).where(
    col(TicketTiming.source) == bindparam("source"),
    col(TicketTiming.ticket_id).in_(bindparam("ticket_ids", expanding=True)),
    col(TicketTiming.routed),
)


@functools.cache
def _timings_upsert(dialect: str, columns: tuple[str, ...]) -> Any:
    """INSERT … ON CONFLICT (source, ticket_id) DO UPDATE of the other ``columns``, for one dialect."""
    statement = _dialect_insert(dialect)(TIMINGS)
    excluded = statement.excluded
    updated = {name: excluded[name] for name in columns if name not in ("source", "ticket_id")}
    return statement.on_conflict_do_update(index_elements=["source", "ticket_id"], set_=updated)


def ticket_creation(timeline: list[TimelineEvent], created_at: datetime, *, stamped: bool) -> TimelineEvent | None:
    """The creation a ticket the webhook delivered adds to its events, where no ``ticket_created`` event says when it
    began: an integration that sends the ticket and its replies but no creation event still gets its first response
    time from the ticket's creation, and a ticket nobody has answered yet counts as awaiting its first reply. Never
    later than the earliest event. A time ``stamped`` on receipt (none was sent) after the earliest event says
    nothing of when the ticket began: then none, and the events alone say, as for a ticket known only from them
    (an agent's first message makes it agent-made, not answered at once)."""
    if any(event.kind == EventKind.ticket_created.value for event in timeline):
        return None
    earliest = min((event.occurred_at for event in timeline), default=created_at)
    if stamped and earliest < created_at:
        return None
    return TimelineEvent(
        event_id="",
        kind=EventKind.ticket_created.value,
        occurred_at=min(created_at, earliest),
        actor_type=ActorType.customer.value,
    )


def by_source(keys: Iterable[tuple[str, str]]) -> Iterator[tuple[str, list[str]]]:
    """(source, ids) groups of at most CHUNK ids: ``source = … AND id IN (…)`` uses the unique index on
    PostgreSQL, where a row-value ``IN`` over (source, id) pairs was seen to scan the table."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for source, identifier in keys:
        grouped[source].append(identifier)
    for source, identifiers in grouped.items():
        for start in range(0, len(identifiers), CHUNK):
            yield source, identifiers[start : start + CHUNK]


def upsert_insert(session: Session, table: Table) -> Any:
    """INSERT with ON CONFLICT, in the dialect's own construct; Core on the table: the ORM's bulk path is slower."""
    return _dialect_insert(session.get_bind().dialect.name)(table)


def _dialect_insert(dialect: str) -> Any:
    return pg_insert if dialect == "postgresql" else sqlite_insert


def record_console_event(
    session: Session,
    *,
    ticket_id: int,
    kind: EventKind,
    agent_id: str | None,
    schedules: ScheduleBook,
) -> bool:
    """An agent's step on a ticket opened in the console: the console is that ticket's ticketing system, so its
    events are written here and its timings count in the KPIs. Other tickets' events come from their own
    system; nothing is done for them."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or ticket.source != CONSOLE_SOURCE:
        return False
    event = EventCreate(
        source=ticket.source,
        event_id=f"{kind.value}-{uuid.uuid4().hex[:12]}",
        ticket_id=ticket.external_id,
        kind=kind,
        occurred_at=utcnow(),
        actor_type=ActorType.agent,
        actor_id=agent_id,
        channel=Channel(ticket.channel) if ticket.channel in Channel.__members__ else None,
        department=ticket.department if kind in (EventKind.ticket_created, EventKind.transferred) else None,
    )
    ingest_events(session, [event], schedules=schedules, mask=mask_pii)
    return True


def refresh_statistics(session: Session) -> None:
    """Let the planner see the events table as it is now: PostgreSQL plans an import into a table it last saw
    empty with sequential scans, every batch slower than the one before."""
    session.execute(text("ANALYZE interaction_events"))
    session.commit()


def timed_tickets(session: Session) -> list[TicketKey]:
    """Every ticket that has timings or should: those with events or a row, and every delivered ticket of a source
    that sends events. What a recomputation of all timings covers."""
    keys: set[TicketKey] = set(session.exec(select(TicketTiming.source, TicketTiming.ticket_id)).all())
    keys.update(session.exec(select(InteractionEvent.source, InteractionEvent.ticket_id).distinct()).all())
    for source in session.exec(select(InteractionEvent.source).distinct()).all():
        keys.update(session.exec(select(Ticket.source, Ticket.external_id).where(Ticket.source == source)).all())
    return sorted(keys)


def recompute_department(session: Session, department: str | None, *, schedules: ScheduleBook) -> int:
    """After a schedule change: every ticket of the department (all of them for the default schedule)."""
    query = select(TicketTiming.source, TicketTiming.ticket_id)
    if department is not None:
        query = query.where(TicketTiming.department == department)
    keys = [(source, ticket_id) for source, ticket_id in session.exec(query).all()]
    count = 0
    # A transaction per chunk: webhooks keep flowing meanwhile, and PostgreSQL's lock table stays small.
    for start in range(0, len(keys), CHUNK):
        with write_lock(session):
            count += recompute_timings(session, keys[start : start + CHUNK], schedules=schedules)
            session.commit()
    return count


def _lock_key(key: TicketKey) -> int:
    digest = hashlib.blake2b(f"{key[0]}\x00{key[1]}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)

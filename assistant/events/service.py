"""Taking in interaction events (idempotent by source + event id) and keeping each ticket's timings current."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import delete, insert, text, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from assistant.db import utcnow, write_lock
from assistant.events.models import EventCreate, EventsAccepted, InteractionEvent, TicketTiming
from assistant.events.timeline import TimelineEvent, timeline_facts
from assistant.schedules.service import ScheduleBook
from assistant.tickets.models import Ticket

TicketKey = tuple[str, str]  # (source, the ticketing system's ticket id)
# Parameters per IN (...) list: far below every supported database's limit.
CHUNK = 500


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
    session: Session, events: Sequence[EventCreate], *, mask: Callable[[str], str]
) -> tuple[int, set[TicketKey]]:
    """Insert the events not seen before (in the caller's transaction); returns how many and their tickets."""
    unique: dict[tuple[str, str], EventCreate] = {}
    for event in events:
        unique.setdefault((event.source, event.event_id), event)
    known: set[tuple[str, str]] = set()
    keys = list(unique)
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        known.update(
            session.exec(
                select(InteractionEvent.source, InteractionEvent.event_id).where(
                    tuple_(col(InteractionEvent.source), col(InteractionEvent.event_id)).in_(chunk)
                )
            ).all()
        )
    fresh = [event for key, event in unique.items() if key not in known]
    if fresh:
        dialect = session.get_bind().dialect.name
        statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(InteractionEvent)
        # A concurrent delivery of the same event may have landed since the check: it wins, quietly.
        statement = statement.on_conflict_do_nothing(index_elements=["source", "event_id"])
        session.execute(statement, event_rows(fresh, mask))
    return len(fresh), {(event.source, event.ticket_id) for event in fresh}


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
    """Recompute the timings of these tickets from all their stored events (in the caller's transaction)."""
    keys = sorted(set(tickets))
    if not keys:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        # Serialise recomputations of one ticket across processes; sorted keys cannot deadlock.
        for key in keys:
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(key)})
    done = 0
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        events: dict[TicketKey, list[TimelineEvent]] = {key: [] for key in chunk}
        # Plain rows, not ORM objects: a bulk import recomputes hundreds of thousands of tickets.
        columns = (
            InteractionEvent.source,
            InteractionEvent.ticket_id,
            InteractionEvent.event_id,
            InteractionEvent.kind,
            InteractionEvent.occurred_at,
            InteractionEvent.actor_type,
            InteractionEvent.actor_id,
            InteractionEvent.channel,
            InteractionEvent.department,
        )
        for source, ticket_id, *fields in session.execute(
            select(*columns).where(tuple_(col(InteractionEvent.source), col(InteractionEvent.ticket_id)).in_(chunk))
        ).all():
            events[(source, ticket_id)].append(TimelineEvent(*fields))
        routed = {
            (source, external_id): (department, channel, language)
            for source, external_id, department, channel, language in session.exec(
                select(Ticket.source, Ticket.external_id, Ticket.department, Ticket.channel, Ticket.language).where(
                    tuple_(col(Ticket.source), col(Ticket.external_id)).in_(chunk)
                )
            ).all()
        }
        now = utcnow()
        rows = []
        for key, timeline in events.items():
            if not timeline:
                continue
            department, channel, language = routed.get(key, (None, None, None))
            facts = timeline_facts(
                timeline, schedule_for=schedules.get, fallback_department=department, fallback_channel=channel
            )
            rows.append({"source": key[0], "ticket_id": key[1], "language": language, "updated_at": now, **facts})
        session.execute(
            delete(TicketTiming).where(tuple_(col(TicketTiming.source), col(TicketTiming.ticket_id)).in_(chunk))
        )
        if rows:
            session.execute(insert(TicketTiming), rows)
        done += len(rows)
    return done


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

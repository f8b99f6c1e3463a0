"""One ticket's timeline → its KPI facts. Pure: the same events give the same facts in any arrival order.

Definitions (docs/KPIS.md, in line with the big help desks):
- FRT: from creation to the first public agent reply; auto replies and internal notes never count.
  A ticket an agent created (an outbound or logged call) has nobody waiting until the customer writes:
  its clock starts at the customer's first message.
- First resolution: creation → first ``solved``; full resolution: creation → last ``solved`` (reopens
  included), only while the ticket is solved; a ``solved`` without a reopen before it changes nothing.
  ``closed`` without ``solved`` counts as solved then.
- FCR: solved with at most one public agent reply before the first ``solved``, never reopened, never transferred.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from assistant.events.models import ActorType, EventKind
from assistant.schedules.hours import BusinessSchedule

# Events at the same instant are taken in the order they must have happened.
_SAME_INSTANT_ORDER = {
    EventKind.ticket_created.value: 0,
    EventKind.customer_reply.value: 1,
    EventKind.auto_reply.value: 2,
    EventKind.internal_note.value: 3,
    EventKind.agent_reply.value: 4,
    EventKind.transferred.value: 5,
    EventKind.solved.value: 6,
    EventKind.reopened.value: 7,
    EventKind.closed.value: 8,
}


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    event_id: str
    kind: str
    occurred_at: datetime
    actor_type: str | None = None
    actor_id: str | None = None
    channel: str | None = None
    department: str | None = None


def day_and_week(moment: datetime) -> tuple[str, str]:
    """UTC calendar day and the Monday that starts its ISO week, as ``YYYY-MM-DD`` (portable SQL grouping)."""
    day = moment.date()
    return day.isoformat(), (day - timedelta(days=day.weekday())).isoformat()


def timeline_facts(
    events: Sequence[TimelineEvent],
    *,
    schedule_for: Callable[[str | None], BusinessSchedule],
    fallback_department: str | None = None,
    fallback_channel: str | None = None,
) -> dict[str, Any]:
    """The ``ticket_timings`` columns for one ticket (without its keys)."""
    ordered = sorted(events, key=lambda e: (e.occurred_at, _SAME_INSTANT_ORDER.get(e.kind, 9), e.event_id))
    created = next((e for e in ordered if e.kind == EventKind.ticket_created.value), None)
    created_at = created.occurred_at if created is not None else ordered[0].occurred_at
    if created is not None:
        agent_made = created.actor_type == ActorType.agent.value
    else:
        # Known only from its events, a ticket whose first is an agent's message has no request we saw it answer: its
        # first response is timed from the customer's first reply, not as 0 h from the agent's own message.
        first = ordered[0]
        agent_made = first.kind == EventKind.agent_reply.value or first.actor_type == ActorType.agent.value

    department = created.department if created is not None else None
    channel = next((e.channel for e in ordered if e.channel), None)
    reply_due_from: datetime | None = None if agent_made else created_at
    first_reply: TimelineEvent | None = None
    first_solved_at: datetime | None = None
    last_solved_at: datetime | None = None
    last_reopened_at: datetime | None = None
    solver: str | None = None
    solved = False
    agent_replies = reopens = transfers = 0
    # Public agent replies up to the first solve: a thank-you sent after it is no second contact.
    replies_when_solved = 0
    for event in ordered:
        if event.occurred_at < created_at:
            continue  # before the ticket existed: a clock error upstream, not part of this ticket's life
        kind = event.kind
        if kind == EventKind.customer_reply.value and reply_due_from is None:
            reply_due_from = event.occurred_at
        elif kind == EventKind.agent_reply.value:
            agent_replies += 1
            if first_reply is None and reply_due_from is not None:
                first_reply = event
        elif kind == EventKind.transferred.value:
            transfers += 1
            department = event.department or department
        elif kind in (EventKind.solved.value, EventKind.closed.value):
            if solved:
                # Closing a solved ticket, or solving it again without a reopen (an edited resolution, a second
                # click), changes nothing: the ticket was resolved when it was first solved.
                continue
            solved = True
            if first_solved_at is None:
                first_solved_at, replies_when_solved = event.occurred_at, agent_replies
            last_solved_at = event.occurred_at
            if event.actor_type == ActorType.agent.value:  # a customer closing their ticket is no agent
                solver = event.actor_id or solver
        elif kind == EventKind.reopened.value:
            last_reopened_at = event.occurred_at  # also for a ticket solved only here, where the events never said so
            if solved:
                solved = False
                reopens += 1
        if kind == EventKind.ticket_created.value and event.department:
            department = department or event.department

    department = department or fallback_department
    schedule = schedule_for(department)
    created_day, created_week = day_and_week(created_at)
    facts: dict[str, Any] = {
        "department": department,
        "channel": channel or fallback_channel,
        "agent": solver or (first_reply.actor_id if first_reply is not None else None),
        "created_at": created_at,
        "created_day": created_day,
        "created_week": created_week,
        "reply_due_from": reply_due_from,
        "first_reply_at": first_reply.occurred_at if first_reply is not None else None,
        "first_solved_at": first_solved_at,
        "last_solved_at": last_solved_at if solved else None,
        "last_reopened_at": last_reopened_at,
        "solved_day": None,
        "solved_week": None,
        "solved": solved,
        "agent_replies": agent_replies,
        "reopens": reopens,
        "transfers": transfers,
        "fcr": (replies_when_solved <= 1 and reopens == 0 and transfers == 0) if solved else None,
        "frt_seconds": None,
        "frt_business_seconds": None,
        "first_resolution_seconds": None,
        "first_resolution_business_seconds": None,
        "full_resolution_seconds": None,
        "full_resolution_business_seconds": None,
    }
    if first_reply is not None and reply_due_from is not None:
        facts["frt_seconds"], facts["frt_business_seconds"] = _durations(
            schedule, reply_due_from, first_reply.occurred_at
        )
    if first_solved_at is not None:
        first = _durations(schedule, created_at, first_solved_at)
        facts["first_resolution_seconds"], facts["first_resolution_business_seconds"] = first
    if solved and last_solved_at is not None:
        full = _durations(schedule, created_at, last_solved_at)
        facts["full_resolution_seconds"], facts["full_resolution_business_seconds"] = full
        facts["solved_day"], facts["solved_week"] = day_and_week(last_solved_at)
    return facts


def _durations(schedule: BusinessSchedule, start: datetime, end: datetime) -> tuple[float, float]:
    return max((end - start).total_seconds(), 0.0), schedule.business_seconds(start, end)

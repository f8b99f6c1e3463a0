"""Ticket intake, decision history and agents' corrections."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, case, exists, func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from assistant.callbacks.service import DECISION_EVENT, enqueue, enqueue_many
from assistant.cases.models import ResolvedCase
from assistant.db import UTCDateTime, utcnow, write_lock
from assistant.errors import InvalidInput, NotFound
from assistant.events.models import TicketTiming
from assistant.events.service import CHUNK, by_source, recompute_timings
from assistant.routing.engine import RoutingEngine, model_choice_first, ticket_text, with_rule
from assistant.routing.rules import RoutingRule, first_match
from assistant.schedules.service import ScheduleBook
from assistant.tickets.models import (
    CONSOLE_SOURCE,
    Channel,
    ConsoleTicketCreate,
    DecisionKind,
    DecisionRead,
    RerouteCreate,
    RoutingDecision,
    Ticket,
    TicketCreate,
    TicketPage,
    TicketRead,
    TicketSummary,
    WebhookDelivery,
)

EXCERPT_CHARS = 160


def ingest_ticket(
    session: Session, *, engine: RoutingEngine, payload: TicketCreate, schedules: ScheduleBook | None
) -> tuple[DecisionRead, bool]:
    """Store the ticket and its routing decision; a repeated delivery returns the stored decision.

    Returns the decision and whether this delivery was new. Everything is committed before return.
    ``schedules``: see ``stage_batch``.
    """
    stored = delivered_decision(session, payload)
    if stored is not None:
        return stored, False
    # Give the connection back to the pool while the model works: a request holding one through the
    # encoder's queue would cap concurrency at the pool's size.
    session.rollback()
    decision = engine.decide(
        subject=payload.subject,
        body=payload.body,
        channel=payload.routed_channel,
        customer_tier=payload.customer_tier,
        source=payload.source,
    )
    return store_decided(session, payload, decision, schedules=schedules, rules=engine.rules)


def store_decided(
    session: Session,
    payload: TicketCreate,
    decision: DecisionRead,
    *,
    schedules: ScheduleBook | None,
    rules: Sequence[RoutingRule],
) -> tuple[DecisionRead, bool]:
    """Commit a routed ticket in a transaction of its own; a delivery stored first (by a concurrent request
    or another process) wins, and its decision is returned instead."""
    try:
        with write_lock(session):
            result = stage_decided(session, payload, decision, schedules=schedules, rules=rules)
            session.commit()
        return result
    except IntegrityError:
        # The same delivery (or the same new ticket) was committed by a concurrent request.
        session.rollback()
        stored = delivered_decision(session, payload)
        if stored is not None:
            return stored, False
        with write_lock(session):
            result = stage_decided(session, payload, decision, schedules=schedules, rules=rules)
            session.commit()
        return result


def stage_decided(
    session: Session,
    payload: TicketCreate,
    decision: DecisionRead,
    *,
    schedules: ScheduleBook | None,
    rules: Sequence[RoutingRule],
) -> tuple[DecisionRead, bool]:
    """Add a routed ticket to the session's transaction, uncommitted; a delivery already there (committed,
    or staged earlier in this transaction) is returned instead, with False."""
    return stage_batch(session, [(payload, decision)], schedules=schedules, rules=rules)[0]


def stage_batch(
    session: Session,
    batch: Sequence[tuple[TicketCreate, DecisionRead]],
    *,
    schedules: ScheduleBook | None,
    rules: Sequence[RoutingRule],
) -> list[tuple[DecisionRead, bool]]:
    """``stage_decided`` for many routed tickets at once, uncommitted, in a handful of statements: the ORM's
    per-object work cost about 4 ms of CPU per ticket, more than everything else a webhook does.

    Deliveries are taken in order: one already stored, or earlier in the batch, is answered with its
    decision; later events of the same ticket update it, as one at a time would. A delivery whose ``updated_at``
    is older than the version the ticket has (stored, or from earlier in the batch) came late: it is recorded,
    so that it is answered the same when delivered again, but changes nothing, and is answered with the
    ticket's current decision; routing the old text would move the ticket back and tell the ticketing system so.

    ``schedules``: to keep each ticket's timings with it: a new ticket is timed from its created time (until a
    ``ticket_created`` event says otherwise), and events that came before it (ticketing systems do not promise
    order) get its language, and its department and channel where no event named them (and so that
    department's business hours). ``None`` only where the caller records the ticket's creation event itself.

    ``rules``: the routing rules, for an update that leaves out its channel or tier: it was routed without them,
    and a rule that the stored ones make fire (a VIP tier, say) is applied here, where the stored ticket is read
    anyway; a lookup before routing cost every ticket a sixth of the webhook's throughput."""
    now = utcnow()
    tickets, decisions, deliveries = Ticket.__table__, RoutingDecision.__table__, WebhookDelivery.__table__
    keys = [(p.source, p.external_id, p.event_id) for p, _ in batch]
    wanted = set(keys)
    stored: dict[tuple[str, str, str], DecisionRead] = {}
    for source, external_ids in by_source(sorted({(source, external_id) for source, external_id, _ in keys})):
        for external_id, event_id, decision in session.exec(
            _STORED_DELIVERIES, params={"source": source, "external_ids": external_ids}
        ):
            if (source, external_id, event_id) in wanted:
                stored[(source, external_id, event_id)] = decision_read(decision, replayed=True)
    new: list[int] = []  # positions in the batch of deliveries to store
    first_of: dict[tuple[str, str, str], int] = {}
    for position, key in enumerate(keys):
        if key not in stored and key not in first_of:
            first_of[key] = position
            new.append(position)
    ticket_keys = sorted({(batch[i][0].source, batch[i][0].external_id) for i in new})
    ticket_ids: dict[tuple[str, str], int] = {}
    # What each ticket's routing facts are before each delivery: stored, then as earlier deliveries send them.
    facts: dict[tuple[str, str], dict[str, str | None]] = {}
    # Each ticket's newest version as the ticketing system timed it: stored, then as earlier deliveries send it.
    versions: dict[tuple[str, str], datetime] = {}
    for source, external_ids in by_source(ticket_keys):
        for ticket_id, external_id in session.exec(
            _KNOWN_TICKETS, params={"source": source, "external_ids": external_ids}
        ):
            ticket_ids[(source, external_id)] = ticket_id
    known_ids = sorted(ticket_ids.values())
    for start in range(0, len(known_ids), CHUNK):
        for source, external_id, channel, customer_tier, version in session.exec(
            _LOCKED_FACTS, params={"ticket_ids": known_ids[start : start + CHUNK]}
        ):
            facts[(source, external_id)] = {"channel": channel, "customer_tier": customer_tier}
            if version is not None:
                versions[(source, external_id)] = version
    # A ticket erased between the two reads is a new one now.
    ticket_ids = {key: ticket_id for key, ticket_id in ticket_ids.items() if key in facts}
    late = {i for i in new if _came_late(batch[i][0], versions)}
    new = [i for i in new if i not in late]
    corrections = _corrections(session, list(ticket_ids.values())) if ticket_ids else {}
    decided: dict[int, DecisionRead] = {}
    for i in new:
        payload, decision = batch[i]
        key2 = (payload.source, payload.external_id)
        # A new ticket that leaves out its channel is stored as "other".
        known = facts.setdefault(key2, {"channel": Channel.other.value, "customer_tier": None})
        decision = _with_stored_facts(payload, decision, known, rules)
        known |= {name: _sent(payload, name) for name in known if name in payload.model_fields_set}
        ticket_id = ticket_ids.get(key2)
        decided[i] = _decided(decision, corrections.get(ticket_id) if ticket_id is not None else None)
    # Each ticket ends as its batch's last event leaves it; a new one is inserted as its first event has it.
    final: dict[tuple[str, str], dict[str, Any]] = {}
    for i in new:
        payload = batch[i][0]
        key2 = (payload.source, payload.external_id)
        values = _ticket_values(payload, decided[i], now)
        if (earlier := final.get(key2)) is not None:
            values |= {name: earlier[name] for name in values["unsent"]}
            values["unsent"] = values["unsent"] & earlier["unsent"]
        final[key2] = values | {
            "created_at": payload.created_at or (earlier["created_at"] if earlier else None),
            "source_updated_at": versions.get(key2),
        }
    inserted = [key2 for key2 in final if key2 not in ticket_ids]
    if inserted:
        rows = [
            {name: value for name, value in final[key2].items() if name != "unsent"}
            | {
                "received_at": now,
                "created_at": final[key2]["created_at"] or now,
                "channel": final[key2]["channel"] or Channel.other.value,
            }
            for key2 in inserted
        ]
        result = session.execute(insert(tickets).returning(tickets.c.id, sort_by_parameter_order=True), rows)
        ticket_ids.update(zip(inserted, result.scalars(), strict=True))
    # In id order, as erasure locks them: two transactions that lock rows in one order cannot deadlock.
    updated = sorted((key2 for key2 in final if key2 not in inserted), key=lambda key2: ticket_ids[key2])
    if updated:
        session.execute(
            update(tickets)
            .where(tickets.c.id == bindparam("ticket_id"))
            .values(
                {
                    **{name: bindparam(f"new_{name}") for name in _TICKET_FIELDS},
                    **{
                        name: case((bindparam(f"keep_{name}"), tickets.c[name]), else_=bindparam(f"new_{name}"))
                        for name in _KEPT_WHEN_ABSENT
                    },
                    "created_at": func.coalesce(bindparam("new_created_at", type_=UTCDateTime()), tickets.c.created_at),
                    "source_updated_at": bindparam("new_source_updated_at", type_=UTCDateTime()),
                }
            ),
            [
                {"ticket_id": ticket_ids[key2]}
                | {f"new_{name}": final[key2][name] for name in (*_TICKET_FIELDS, "created_at", "source_updated_at")}
                | {f"keep_{name}": name in final[key2]["unsent"] for name in _KEPT_WHEN_ABSENT}
                for key2 in updated
            ],
        )
    decision_rows = [
        decided[i].model_dump(include=set(_DECISION_FIELDS))
        | {"ticket_id": ticket_ids[(batch[i][0].source, batch[i][0].external_id)], "created_at": now}
        for i in new
    ]
    answers: dict[int, DecisionRead] = {}
    if new:
        returning = insert(decisions).returning(decisions.c.id, sort_by_parameter_order=True)
        result = session.execute(returning, decision_rows)
        for i, decision_id, values in zip(new, result.scalars(), decision_rows, strict=True):
            answers[i] = DecisionRead(**values, decision_id=decision_id, actor=None, note=None)
        enqueue_many(
            session,
            DECISION_EVENT,
            [
                {
                    "source": batch[i][0].source,
                    "external_id": batch[i][0].external_id,
                    "decision": answers[i].model_dump(mode="json", exclude={"replayed"}),
                }
                for i in new
            ],
        )
    if late:
        answers |= _current_decisions(session, batch, late, new, answers, ticket_ids)
    if answers:
        session.execute(
            insert(deliveries),
            [
                {
                    "source": batch[i][0].source,
                    "external_id": batch[i][0].external_id,
                    "event_id": batch[i][0].event_id,
                    "ticket_id": answer.ticket_id,
                    "decision_id": answer.decision_id,
                    "received_at": now,
                }
                for i, answer in answers.items()
            ],
        )
    if schedules is not None and final:
        recompute_timings(session, list(final), schedules=schedules)
    results: list[tuple[DecisionRead, bool]] = []
    for position, key in enumerate(keys):
        if key in stored:
            results.append((stored[key], False))
        elif first_of[key] == position:
            results.append((answers[position], position not in late))
        else:
            results.append((answers[first_of[key]].model_copy(update={"replayed": True}), False))
    return results


# Built once: a webhook's commit is on its answer's path, and building these expressions for every batch
# cost a third of a lone ticket's commit (in-process on SQLite, median of 1,000: 1.77 ms, 1.20 ms now).
_STORED_DELIVERIES = (
    select(WebhookDelivery.external_id, WebhookDelivery.event_id, RoutingDecision)
    .join(RoutingDecision, col(WebhookDelivery.decision_id) == col(RoutingDecision.id))
    .where(
        col(WebhookDelivery.source) == bindparam("source"),
        col(WebhookDelivery.external_id).in_(bindparam("external_ids", expanding=True)),
    )
)
_KNOWN_TICKETS = select(Ticket.id, Ticket.external_id).where(
    col(Ticket.source) == bindparam("source"), col(Ticket.external_id).in_(bindparam("external_ids", expanding=True))
)
# What the batch reads of the stored tickets before it writes them, locked until it commits (PostgreSQL; SQLite has
# one writer at a time): another process's delivery of the same ticket waits to read the version, channel and tier
# this batch leaves, instead of writing an older version over a newer one. Locked in id order across sources, as
# erasure locks them, so the two cannot deadlock; NO KEY UPDATE (what an UPDATE takes) leaves rows that point at the
# tickets (resolved cases, the gap report's vectors, suggestion logs) free to be inserted meanwhile.
_LOCKED_FACTS = (
    select(Ticket.source, Ticket.external_id, Ticket.channel, Ticket.customer_tier, Ticket.source_updated_at)
    .where(col(Ticket.id).in_(bindparam("ticket_ids", expanding=True)))
    .order_by(col(Ticket.id))
    .with_for_update(key_share=True)
)

_DECISION_TRAIL = (
    select(
        RoutingDecision.ticket_id,
        RoutingDecision.kind,
        RoutingDecision.rule,
        RoutingDecision.department,
        RoutingDecision.intent,
    )
    .where(col(RoutingDecision.ticket_id).in_(bindparam("ticket_ids", expanding=True)))
    .order_by(col(RoutingDecision.id))
)


# An update that leaves these out keeps the ticket's (one that sends null or "" clears them): a ticketing system
# that sends only what changed must not erase the customer (whom erasure and deflection find by it), the tier, the
# channel, or the half of the text it did not resend (resolved cases and the gap report read the whole).
_KEPT_WHEN_ABSENT = ("subject", "body", "channel", "customer_ref", "customer_tier")
AGENT_CORRECTION_RULE = "agent_correction"


class Correction(NamedTuple):
    """A ticket's newest agent correction, and the routing rules that had fired on it before (the agent saw them)."""

    department: str
    intent: str | None
    rules_seen: frozenset[str]


def _corrections(session: Session, ticket_ids: Sequence[int]) -> dict[int, Correction]:
    newest: dict[int, Correction] = {}
    rules_seen: dict[int, set[str]] = {}
    for start in range(0, len(ticket_ids), CHUNK):
        chunk = list(ticket_ids[start : start + CHUNK])
        for ticket_id, kind, rule, department, intent in session.exec(_DECISION_TRAIL, params={"ticket_ids": chunk}):
            if kind == DecisionKind.correction.value:  # ordered by id: the last one seen is the newest
                newest[ticket_id] = Correction(department, intent, frozenset(rules_seen.get(ticket_id, ())))
            elif rule:
                rules_seen.setdefault(ticket_id, set()).add(rule)
    return newest


def _came_late(payload: TicketCreate, versions: dict[tuple[str, str], datetime]) -> bool:
    """Whether the delivery is older than the ticket's version so far; if not, its version becomes the ticket's."""
    if payload.updated_at is None:
        return False
    key = (payload.source, payload.external_id)
    if key in versions and payload.updated_at < versions[key]:
        return True
    versions[key] = payload.updated_at
    return False


def _current_decisions(
    session: Session,
    batch: Sequence[tuple[TicketCreate, DecisionRead]],
    late: Collection[int],
    applied: Sequence[int],
    answers: dict[int, DecisionRead],
    ticket_ids: dict[tuple[str, str], int],
) -> dict[int, DecisionRead]:
    """For each late delivery, its ticket's decision once the batch is stored: the last one the batch made for
    it, else its newest stored one (an agent's correction included)."""

    def ticket_of(position: int) -> int:
        return ticket_ids[(batch[position][0].source, batch[position][0].external_id)]

    made = {ticket_of(i): answers[i] for i in applied}
    wanted = sorted({ticket_of(i) for i in late} - set(made))
    if wanted:
        newest = (
            select(func.max(RoutingDecision.id))
            .where(col(RoutingDecision.ticket_id).in_(wanted))
            .group_by(col(RoutingDecision.ticket_id))
        )
        for row in session.exec(select(RoutingDecision).where(col(RoutingDecision.id).in_(newest))):
            made[row.ticket_id] = decision_read(row)
    return {i: made[ticket_of(i)].model_copy(update={"replayed": True}) for i in late}


def _sent(payload: TicketCreate, name: str) -> str | None:
    value = getattr(payload, name)
    return value.value if isinstance(value, Channel) else value


def _with_stored_facts(
    payload: TicketCreate, decision: DecisionRead, known: dict[str, str | None], rules: Sequence[RoutingRule]
) -> DecisionRead:
    """The decision with the rules checked again where the delivery left out a channel or tier the ticket has."""
    left_out = {name: value for name, value in known.items() if name not in payload.model_fields_set}
    if not rules or not any(left_out.values()):
        return decision
    facts = {name: _sent(payload, name) for name in known} | left_out
    rule = first_match(rules, text=ticket_text(payload.subject, payload.body), source=payload.source, **facts)
    return decision if rule is None or rule.name == decision.rule else with_rule(decision, rule)


def _decided(decision: DecisionRead, correction: Correction | None) -> DecisionRead:
    """The decision a delivery stores: the model's, unless an agent has re-routed the ticket. The model's guess at
    an update does not undo an agent's correction (it would move the ticket back, and tell the ticketing system
    so), nor does a routing rule that had fired before it (a tier or channel rule fires on every update); the
    correction holds, as a rule would, with the model's choice kept as the first alternative. A rule that fires
    for the first time (on the new text, say) still wins: that is news the agent had not seen."""
    if correction is None or (decision.kind == DecisionKind.rule.value and decision.rule not in correction.rules_seen):
        return decision
    department, intent, _ = correction
    if intent is None and department == decision.department:
        intent = decision.intent  # the agent settled the department only; the model's intent in it stands
    return decision.model_copy(
        update={
            "department": department,
            "intent": intent,
            "confidence": 1.0,
            "intent_confidence": decision.intent_confidence if intent == decision.intent else None,
            "alternatives": model_choice_first(decision),
            "needs_human_triage": False,
            "triage_reason": None,
            "rule": AGENT_CORRECTION_RULE,
            "kind": DecisionKind.rule.value,
        }
    )


_TICKET_FIELDS = (
    "subject",
    "body",
    "channel",
    "customer_ref",
    "customer_tier",
    "language",
    "department",
    "intent",
    "needs_human_triage",
    "updated_at",
)


def _ticket_values(payload: TicketCreate, decision: DecisionRead, now: datetime) -> dict[str, Any]:
    """The ticket's columns as this delivery has them, and under ``unsent`` the ``_KEPT_WHEN_ABSENT`` fields it
    does not send (None among the columns)."""
    unsent = frozenset(name for name in _KEPT_WHEN_ABSENT if name not in payload.model_fields_set)
    return {
        "source": payload.source,
        "external_id": payload.external_id,
        "subject": payload.subject,
        "body": payload.body,
        "channel": None if "channel" in unsent else payload.channel.value,
        "customer_ref": payload.customer_ref,
        "customer_tier": payload.customer_tier,
        "language": decision.language,
        "department": decision.department,
        "intent": decision.intent,
        "needs_human_triage": decision.needs_human_triage,
        "updated_at": now,
        "unsent": unsent,
    }


_DECISION_FIELDS = (
    "department",
    "intent",
    "confidence",
    "intent_confidence",
    "alternatives",
    "language",
    "urgency",
    "needs_human_triage",
    "triage_reason",
    "rule",
    "model_version",
    "kind",
)


def delivered_decision(session: Session, payload: TicketCreate) -> DecisionRead | None:
    row = session.exec(
        select(RoutingDecision)
        .join(WebhookDelivery, col(WebhookDelivery.decision_id) == col(RoutingDecision.id))
        .where(
            WebhookDelivery.source == payload.source,
            WebhookDelivery.external_id == payload.external_id,
            WebhookDelivery.event_id == payload.event_id,
        )
    ).first()
    return None if row is None else decision_read(row, replayed=True)


def callback_payload(ticket: Ticket, decision: DecisionRead) -> dict[str, Any]:
    """What a subscriber learns: the ticket as its system knows it, and the decision."""
    return {
        "source": ticket.source,
        "external_id": ticket.external_id,
        "decision": decision.model_dump(mode="json", exclude={"replayed"}),
    }


def decision_read(row: RoutingDecision, *, replayed: bool = False) -> DecisionRead:
    return DecisionRead(
        decision_id=row.id,
        ticket_id=row.ticket_id,
        actor=row.actor,
        note=row.note,
        created_at=row.created_at,
        replayed=replayed,
        **row.model_dump(include=set(_DECISION_FIELDS)),
    )


def get_ticket(session: Session, *, ticket_id: int) -> TicketRead:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(f"No ticket with id {ticket_id}.", code="ticket_not_found")
    decisions = session.exec(
        select(RoutingDecision).where(RoutingDecision.ticket_id == ticket_id).order_by(col(RoutingDecision.id))
    ).all()
    return TicketRead(**ticket.model_dump(), decisions=[decision_read(d) for d in decisions])


def reroute_ticket(
    session: Session,
    *,
    ticket_id: int,
    correction: RerouteCreate,
    intents: dict[str, str],
    schedules: ScheduleBook,
) -> DecisionRead:
    """An agent moves a ticket; the correction is stored and becomes a training label.

    Any department is accepted (an agent may move a ticket to a queue the model has never seen);
    an intent must be one the taxonomy knows, in that department. The ticket's timings follow it where no
    event of its own ticketing system names a department (the routed one is their fallback).
    """
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(f"No ticket with id {ticket_id}.", code="ticket_not_found")
    if correction.intent is not None:
        if correction.intent not in intents:
            raise InvalidInput(f"Unknown intent {correction.intent!r}.", code="unknown_intent")
        if intents[correction.intent] != correction.department:
            raise InvalidInput(
                f"Intent {correction.intent!r} belongs to department {intents[correction.intent]!r}, "
                f"not {correction.department!r}.",
                code="intent_department_mismatch",
            )
    now = utcnow()
    row = RoutingDecision(
        ticket_id=ticket_id,
        kind=DecisionKind.correction.value,
        department=correction.department,
        intent=correction.intent,
        confidence=1.0,
        language=ticket.language,
        actor=correction.agent_id,
        note=correction.note,
        created_at=now,
    )
    ticket.department = correction.department
    ticket.intent = correction.intent
    ticket.needs_human_triage = False
    ticket.updated_at = now
    session.add(row)
    session.add(ticket)
    session.flush()
    decision = decision_read(row)
    enqueue(session, DECISION_EVENT, callback_payload(ticket, decision))
    recompute_timings(session, [(ticket.source, ticket.external_id)], schedules=schedules)
    session.commit()
    return decision


def corrected_examples(session: Session, *, label: str = "intent") -> list[tuple[str, str]]:
    """(text, label) per corrected ticket, from the agent's newest correction."""
    rows = session.exec(
        select(Ticket, RoutingDecision)
        .join(RoutingDecision, col(RoutingDecision.ticket_id) == col(Ticket.id))
        .where(RoutingDecision.kind == DecisionKind.correction.value)
        .order_by(col(Ticket.id), col(RoutingDecision.id))
    ).all()
    newest: dict[int, tuple[str, str | None]] = {}
    for ticket, decision in rows:  # ordered by decision id: the last one seen is the newest
        assert ticket.id is not None
        value = decision.intent if label == "intent" else decision.department
        newest[ticket.id] = (ticket_text(ticket.subject, ticket.body), value)
    # A newest correction without this label (a department-only move) leaves the ticket unlabelled.
    return [(text, value) for text, value in newest.values() if value]


def open_console_ticket(
    session: Session, *, engine: RoutingEngine, request: ConsoleTicketCreate
) -> tuple[DecisionRead, TicketCreate]:
    """A ticket an agent opens in the console: routed and stored like a delivered one, under the console's source."""
    payload = TicketCreate(
        source=CONSOLE_SOURCE,
        external_id=f"C-{uuid.uuid4().hex[:12]}",
        event_id="opened",
        subject=request.subject,
        body=request.body,
        channel=request.channel,
        customer_ref=request.customer_ref,
        customer_tier=request.customer_tier,
        created_at=utcnow(),
    )
    # The console records the ticket's creation event itself, which times it.
    decision, _ = ingest_ticket(session, engine=engine, payload=payload, schedules=None)
    return decision, payload


def list_tickets(
    session: Session,
    *,
    offset: int = 0,
    limit: int = 25,
    department: str | None = None,
    triage: bool | None = None,
    solved: bool | None = None,
    text: str | None = None,
) -> TicketPage:
    """Newest first: an agent's queue, filtered by department, triage, solved or words in the ticket."""
    if text is not None and "\x00" in text:
        raise InvalidInput("text may not contain NUL characters.", code="validation_error")
    # Solved in the ticketing system the ticket came from (its events say so), or here (a resolved case) and not
    # reopened there since.
    same_ticket = (TicketTiming.source == Ticket.source) & (TicketTiming.ticket_id == Ticket.external_id)
    reopened_since = (
        exists()
        .where(same_ticket & (col(TicketTiming.last_reopened_at) > col(ResolvedCase.solved_at)))
        .correlate(Ticket, ResolvedCase)  # the ticket and case of the enclosing queries, not every pair
    )
    is_solved = exists().where((ResolvedCase.ticket_id == Ticket.id) & ~reopened_since) | exists().where(
        same_ticket & col(TicketTiming.solved)
    )
    query = select(Ticket, is_solved.label("solved"))
    if department:
        query = query.where(Ticket.department == department)
    if triage is not None:
        query = query.where(Ticket.needs_human_triage == triage)
    if solved is not None:
        query = query.where(is_solved if solved else ~is_solved)
    if text:
        # autoescape: a "%" or "_" the user typed is a character to find, not a wildcard matching everything.
        wanted = text.lower()
        query = query.where(
            func.lower(Ticket.subject).contains(wanted, autoescape=True)
            | func.lower(Ticket.body).contains(wanted, autoescape=True)
        )
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc()).offset(offset).limit(limit)
    )
    return TicketPage(
        total=int(total),
        offset=offset,
        tickets=[
            TicketSummary(
                id=ticket.id,
                source=ticket.source,
                external_id=ticket.external_id,
                subject=ticket.subject,
                excerpt=_excerpt(ticket.body),
                channel=ticket.channel,
                department=ticket.department,
                intent=ticket.intent,
                language=ticket.language,
                needs_human_triage=ticket.needs_human_triage,
                solved=bool(is_done),
                created_at=ticket.created_at,
            )
            for ticket, is_done in rows.all()
        ],
    )


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1].rstrip() + "…"

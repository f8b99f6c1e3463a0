"""The ticket webhook's path off the handler threads: the decision is awaited on the event loop, and one
writer thread (a ``BatchWriter``) commits new tickets, those that arrive together in one transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Future

import anyio
from sqlalchemy import Engine
from sqlmodel import Session

from assistant.db import BatchWriter
from assistant.errors import ServiceUnavailable
from assistant.routing.engine import RoutingEngine
from assistant.routing.rules import RoutingRule
from assistant.schedules.service import ScheduleBook
from assistant.tickets.models import DecisionRead, TicketCreate
from assistant.tickets.service import delivered_decision, stage_batch, store_decided
from knowledge.batching import DEFAULT_TIMEOUT_SECONDS

Routed = tuple[TicketCreate, DecisionRead]


class TicketWriter(BatchWriter[Routed, tuple[DecisionRead, bool]]):
    """Commits routed tickets. A batch that fails (another process committed one of these deliveries first,
    or one of them cannot be stored) is retried one ticket at a time, where a delivery stored first wins."""

    def __init__(
        self, engine: Engine, *, schedules: ScheduleBook, rules: Sequence[RoutingRule], max_batch: int = 64
    ) -> None:
        super().__init__(
            engine,
            name="ticket-writer",
            stage_batch=lambda session, batch: stage_batch(session, batch, schedules=schedules, rules=rules),
            write_alone=lambda session, routed: store_decided(session, *routed, schedules=schedules, rules=rules),
            max_batch=max_batch,
        )

    def store(self, payload: TicketCreate, decision: DecisionRead) -> Future[tuple[DecisionRead, bool]]:
        """Future of the stored decision and whether the delivery was new, resolved once committed."""
        return self.submit((payload, decision))


async def ingest_delivery(
    payload: TicketCreate, *, routing: RoutingEngine, writer: TicketWriter, engine: Engine
) -> tuple[DecisionRead, bool]:
    """Route a delivered ticket and commit it with its decision; a repeated delivery gets the stored
    decision. Returns the decision and whether the delivery was new."""
    try:
        decision = await routing.decide_async(
            subject=payload.subject,
            body=payload.body,
            channel=payload.routed_channel,
            customer_tier=payload.customer_tier,
            source=payload.source,
        )
    except ServiceUnavailable:
        # Without a classifier a new ticket cannot be routed, but a repeated delivery still has its answer.
        stored = await anyio.to_thread.run_sync(_stored_decision, engine, payload)
        if stored is None:
            raise
        return stored, False
    try:
        async with asyncio.timeout(DEFAULT_TIMEOUT_SECONDS):
            return await asyncio.wrap_future(writer.store(payload, decision))
    except TimeoutError:
        raise ServiceUnavailable(
            f"The ticket could not be stored within {DEFAULT_TIMEOUT_SECONDS:g} s: the database is busy. Deliver it "
            "again later; if it was stored meanwhile, the same delivery answers with its decision.",
            code="storage_busy",
        ) from None


def _stored_decision(engine: Engine, payload: TicketCreate) -> DecisionRead | None:
    with Session(engine) as session:
        return delivered_decision(session, payload)

"""The ticket webhook's path off the handler threads: the decision is awaited on the event loop, and one
writer thread commits new tickets, those that arrive together in one transaction.

A handler thread per waiting ticket meant dozens of threads taking turns at the GIL and queueing for
SQLite's one writer, each holding the write lock while it waited for the GIL again; one writer that
stages a batch of tickets and commits once does the same work with none of that hand-over.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass

import anyio
from sqlalchemy import Engine
from sqlmodel import Session

from assistant.db import write_lock
from assistant.errors import ServiceUnavailable
from assistant.routing.engine import RoutingEngine
from assistant.tickets.models import DecisionRead, TicketCreate
from assistant.tickets.service import delivered_decision, stage_batch, store_decided
from knowledge.batching import DEFAULT_TIMEOUT_SECONDS

_STOP = object()


@dataclass
class _Pending:
    payload: TicketCreate
    decision: DecisionRead
    future: Future[tuple[DecisionRead, bool]]


class TicketWriter:
    def __init__(self, engine: Engine, *, max_batch: int = 64) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.transactions = 0

    def start(self) -> TicketWriter:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ticket-writer", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    def store(self, payload: TicketCreate, decision: DecisionRead) -> Future[tuple[DecisionRead, bool]]:
        """Future of the stored decision and whether the delivery was new, resolved once committed."""
        future: Future[tuple[DecisionRead, bool]] = Future()
        if self._thread is None:
            future.set_exception(RuntimeError("ticket writer is not running"))
        else:
            self._queue.put(_Pending(payload, decision, future))
        return future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            assert isinstance(first, _Pending)
            batch = [first]
            stop_after = False
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop_after = True
                    break
                assert isinstance(item, _Pending)
                batch.append(item)
            self._write(batch)
            if stop_after:
                return

    def _write(self, batch: list[_Pending]) -> None:
        try:
            with Session(self.engine, expire_on_commit=False) as session, write_lock(session):
                results = stage_batch(session, [(item.payload, item.decision) for item in batch])
                session.commit()
        except Exception:
            # Another process committed one of these deliveries first, or one of them cannot be stored:
            # each on its own, so that a failure reaches only its own sender.
            for item in batch:
                self._write_alone(item)
            return
        self.transactions += 1
        for item, result in zip(batch, results, strict=True):
            item.future.set_result(result)

    def _write_alone(self, item: _Pending) -> None:
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                result = store_decided(session, item.payload, item.decision)
        except BaseException as exc:  # the sender gets the failure; the writer lives on
            item.future.set_exception(exc)
            return
        self.transactions += 1
        item.future.set_result(result)


async def ingest_delivery(
    payload: TicketCreate, *, routing: RoutingEngine, writer: TicketWriter, engine: Engine
) -> tuple[DecisionRead, bool]:
    """Route a delivered ticket and commit it with its decision; a repeated delivery gets the stored
    decision. Returns the decision and whether the delivery was new."""
    try:
        decision = await routing.decide_async(
            subject=payload.subject,
            body=payload.body,
            channel=payload.channel.value,
            customer_tier=payload.customer_tier,
            source=payload.source,
        )
    except ServiceUnavailable:
        # Without a classifier a new ticket cannot be routed, but a repeated delivery still has its answer.
        stored = await anyio.to_thread.run_sync(_stored_decision, engine, payload)
        if stored is None:
            raise
        return stored, False
    async with asyncio.timeout(DEFAULT_TIMEOUT_SECONDS):
        return await asyncio.wrap_future(writer.store(payload, decision))


def _stored_decision(engine: Engine, payload: TicketCreate) -> DecisionRead | None:
    with Session(engine) as session:
        return delivered_decision(session, payload)

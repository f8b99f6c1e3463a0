"""The outbox: deliveries are written in the same transaction as the decision they announce, then
claimed by any process's worker, posted with httpx, retried with exponential backoff and jitter, and
dead-lettered after the last attempt. Nothing acknowledged is lost across a restart: the row is the promise.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, insert, or_, update
from sqlmodel import Session, col, select

from assistant.callbacks.models import (
    CallbackSubscription,
    DeliveryRead,
    DeliveryStatus,
    OutboxDelivery,
    SubscriptionCreate,
    SubscriptionRead,
)
from assistant.db import session_scope, utcnow, write_lock
from assistant.errors import Conflict, NotFound
from assistant.security import signed_headers

log = logging.getLogger("assistant")

DECISION_EVENT = "routing.decision"
# A worker claims a few deliveries at a time and holds them this long (longer than the few posts can
# take at their timeout), so that a live worker's rows are never taken over by another.
CLAIM_BATCH = 5
LEASE_SECONDS = 120
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 3_600.0


# ---- subscriptions -------------------------------------------------------------------------------


def create_subscription(session: Session, data: SubscriptionCreate) -> SubscriptionRead:
    row = CallbackSubscription(url=data.url, secret=data.secret or secrets.token_hex(24))
    with write_lock(session):
        session.add(row)
        session.commit()
    return SubscriptionRead.model_validate(row, from_attributes=True)


def list_subscriptions(session: Session) -> list[SubscriptionRead]:
    rows = session.exec(select(CallbackSubscription).order_by(col(CallbackSubscription.id))).all()
    return [
        SubscriptionRead.model_validate(row, from_attributes=True).model_copy(update={"secret": None}) for row in rows
    ]


def delete_subscription(session: Session, subscription_id: int) -> None:
    row = session.get(CallbackSubscription, subscription_id)
    if row is None:
        raise NotFound(f"No callback subscription with id {subscription_id}.", code="subscription_not_found")
    with write_lock(session):
        row.active = False  # pending deliveries stay visible; no new ones are made
        session.add(row)
        session.commit()


def enqueue(session: Session, event: str, payload: dict[str, Any]) -> int:
    """Add a delivery per active subscription, in the caller's transaction (committed with the decision)."""
    return enqueue_many(session, event, [payload])


def enqueue_many(session: Session, event: str, payloads: list[dict[str, Any]]) -> int:
    """A delivery per active subscription for each payload, in one statement, in the caller's transaction."""
    subscription_ids = session.exec(select(CallbackSubscription.id).where(col(CallbackSubscription.active))).all()
    if not subscription_ids or not payloads:
        return 0
    now = utcnow()
    rows = [
        {
            "subscription_id": subscription_id,
            "event": event,
            "payload": payload,
            "status": DeliveryStatus.pending.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for payload in payloads
        for subscription_id in subscription_ids
    ]
    session.execute(insert(OutboxDelivery.__table__), rows)
    return len(rows)


def list_deliveries(session: Session, *, status: DeliveryStatus | None, limit: int) -> list[DeliveryRead]:
    query = select(OutboxDelivery).order_by(col(OutboxDelivery.id).desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxDelivery.status == status.value)
    return [DeliveryRead.model_validate(row, from_attributes=True) for row in session.exec(query).all()]


def retry_delivery(session: Session, delivery_id: int) -> DeliveryRead:
    """An operator sends a dead-lettered delivery round again."""
    row = session.get(OutboxDelivery, delivery_id)
    if row is None:
        raise NotFound(f"No callback delivery with id {delivery_id}.", code="delivery_not_found")
    if row.status != DeliveryStatus.dead.value:
        raise Conflict(f"Delivery {delivery_id} is {row.status}; only dead-lettered deliveries are retried.")
    with write_lock(session):
        row.status, row.attempts, row.next_attempt_at, row.locked_until = (
            DeliveryStatus.pending.value,
            0,
            utcnow(),
            None,
        )
        session.add(row)
        session.commit()
    return DeliveryRead.model_validate(row, from_attributes=True)


# ---- delivering ----------------------------------------------------------------------------------


def backoff_seconds(attempts: int, *, base: float = BACKOFF_BASE_SECONDS, cap: float = BACKOFF_CAP_SECONDS) -> float:
    """Full jitter: a random wait up to base·2^attempts, so that retries of many rows do not stampede."""
    return random.uniform(base / 2, min(cap, base * 2 ** max(attempts - 1, 0)))


def claim(engine: Engine, *, worker: str, limit: int = CLAIM_BATCH) -> list[OutboxDelivery]:
    """Take up to ``limit`` due deliveries for this worker; no two workers ever hold the same one."""
    now = utcnow()
    lease = now + timedelta(seconds=LEASE_SECONDS)
    with session_scope(engine) as session, write_lock(session):
        due = (
            select(OutboxDelivery.id)
            .where(
                OutboxDelivery.status == DeliveryStatus.pending.value,
                col(OutboxDelivery.next_attempt_at) <= now,
                or_(col(OutboxDelivery.locked_until).is_(None), col(OutboxDelivery.locked_until) < now),
            )
            .order_by(col(OutboxDelivery.id))
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            # Rows another worker is claiming right now are skipped, not waited for.
            due = due.with_for_update(skip_locked=True)
        ids = list(session.exec(due).all())
        if not ids:
            return []
        # Conditional, so that on SQLite (no row locks) a worker in another process that read the same ids
        # first leaves them to whoever updated first.
        session.execute(
            update(OutboxDelivery)
            .where(
                col(OutboxDelivery.id).in_(ids),
                OutboxDelivery.status == DeliveryStatus.pending.value,
                or_(col(OutboxDelivery.locked_until).is_(None), col(OutboxDelivery.locked_until) < now),
            )
            .values(locked_until=lease, locked_by=worker)
        )
        session.commit()
        rows = session.exec(
            select(OutboxDelivery).where(col(OutboxDelivery.id).in_(ids), OutboxDelivery.locked_by == worker)
        ).all()
    log.debug("worker %s claimed %d callback deliveries", worker, len(rows))
    return list(rows)


def deliver(
    engine: Engine,
    client: httpx.Client,
    delivery: OutboxDelivery,
    *,
    max_attempts: int,
    backoff_base: float = BACKOFF_BASE_SECONDS,
) -> DeliveryStatus:
    with session_scope(engine) as session:
        subscription = session.get(CallbackSubscription, delivery.subscription_id)
    body = json.dumps(
        {"event": delivery.event, "delivery_id": delivery.id, "data": delivery.payload}, separators=(",", ":")
    ).encode()
    error: str | None = None
    if subscription is None or not subscription.active:
        error = "the subscription was removed"
    else:
        headers = signed_headers(subscription.secret, body)
        headers["X-Delivery-Id"] = str(delivery.id)
        try:
            response = client.post(subscription.url, content=body, headers=headers)
            if 200 <= response.status_code < 300:
                return _settle(engine, delivery, status=DeliveryStatus.delivered)
            error = f"HTTP {response.status_code}"
        except Exception as exc:  # a bad address must fail this delivery, not the worker
            error = f"{type(exc).__name__}: {exc}"[:500]
    attempts = delivery.attempts + 1
    if attempts >= max_attempts or subscription is None or not subscription.active:
        log.warning("callback delivery %s dead after %d attempts: %s", delivery.id, attempts, error)
        return _settle(engine, delivery, status=DeliveryStatus.dead, attempts=attempts, error=error)
    retry_at = utcnow() + timedelta(seconds=backoff_seconds(attempts, base=backoff_base))
    return _settle(engine, delivery, status=DeliveryStatus.pending, attempts=attempts, error=error, retry_at=retry_at)


def _settle(
    engine: Engine,
    delivery: OutboxDelivery,
    *,
    status: DeliveryStatus,
    attempts: int | None = None,
    error: str | None = None,
    retry_at: datetime | None = None,
) -> DeliveryStatus:
    values: dict[str, Any] = {"status": status.value, "locked_until": None, "locked_by": None, "last_error": error}
    if attempts is not None:
        values["attempts"] = attempts
    if retry_at is not None:
        values["next_attempt_at"] = retry_at
    if status == DeliveryStatus.delivered:
        values["delivered_at"] = utcnow()
        values["attempts"] = delivery.attempts + 1
    with session_scope(engine) as session, write_lock(session):
        # Only while this worker still holds the row: a stale worker must not undo another's outcome.
        session.execute(
            update(OutboxDelivery)
            .where(col(OutboxDelivery.id) == delivery.id, OutboxDelivery.locked_by == delivery.locked_by)
            .values(**values)
        )
        session.commit()
    return status


class CallbackWorker:
    """A thread per process that drains the outbox; any number of processes may run one."""

    def __init__(
        self,
        engine: Engine,
        *,
        interval_seconds: float = 1.0,
        max_attempts: int = 8,
        backoff_seconds: float = BACKOFF_BASE_SECONDS,
        timeout_seconds: float = 10.0,
    ) -> None:
        self.engine = engine
        self.backoff = backoff_seconds
        self.interval = interval_seconds
        self.max_attempts = max_attempts
        self.timeout = timeout_seconds
        self.name = f"callbacks-{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> CallbackWorker:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.timeout + 5)

    def run_once(self, client: httpx.Client) -> int:
        claimed = claim(self.engine, worker=self.name)
        for delivery in claimed:
            if self._stop.is_set():
                break  # the rest are released when their lease runs out
            try:
                deliver(self.engine, client, delivery, max_attempts=self.max_attempts, backoff_base=self.backoff)
            except Exception:
                log.exception("callback delivery %s failed; it is retried when its lease ends", delivery.id)
        return len(claimed)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
            while not self._stop.is_set():
                try:
                    busy = self.run_once(client)
                except Exception:
                    log.exception("callback worker %s failed a round; retrying", self.name)
                    busy = 0
                if not busy:
                    self._stop.wait(self.interval)

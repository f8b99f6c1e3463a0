"""Callback subscriptions and the outbox, visible to operators and integrations."""

from __future__ import annotations

from typing import Annotated

from litestar import delete, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter, QueryParameter
from sqlmodel import Session

from assistant.auth.models import Role
from assistant.callbacks import service
from assistant.callbacks.models import DeliveryRead, DeliveryStatus, SubscriptionCreate, SubscriptionRead
from assistant.db import MAX_ROW_ID

CALLBACK_ROLES = [Role.admin, Role.integration]
ItemId = Annotated[int, Parameter(ge=1, le=MAX_ROW_ID)]


@post(
    "/v1/callbacks/subscriptions",
    tags=["callbacks"],
    summary="Subscribe a URL to routing decisions; the answer shows the signing secret once",
    description=(
        "Each decision is POSTed as `{event, delivery_id, data}`, signed like our webhooks (`X-Timestamp`, "
        "`X-Signature: sha256=<HMAC of '<ts>.<body>'>`), retried with exponential backoff and jitter, and "
        "dead-lettered after the last attempt. Deliveries are at least once: deduplicate on `X-Delivery-Id`."
    ),
    opt={"roles": CALLBACK_ROLES},
    status_code=201,
    sync_to_thread=True,
)
def subscribe(data: JSONBody[SubscriptionCreate], session: NamedDependency[Session]) -> SubscriptionRead:
    return service.create_subscription(session, data)


@get(
    "/v1/callbacks/subscriptions",
    tags=["callbacks"],
    summary="Callback subscriptions",
    opt={"roles": CALLBACK_ROLES},
    sync_to_thread=True,
)
def subscriptions(session: NamedDependency[Session]) -> list[SubscriptionRead]:
    return service.list_subscriptions(session)


@delete(
    "/v1/callbacks/subscriptions/{subscription_id:int}",
    tags=["callbacks"],
    summary="Stop a subscription (its pending deliveries are dead-lettered)",
    opt={"roles": CALLBACK_ROLES},
    sync_to_thread=True,
)
def unsubscribe(subscription_id: ItemId, session: NamedDependency[Session]) -> None:
    service.delete_subscription(session, subscription_id)


@get(
    "/v1/callbacks/deliveries",
    tags=["callbacks"],
    summary="The outbox: pending, delivered and dead-lettered deliveries, newest first",
    opt={"roles": CALLBACK_ROLES},
    sync_to_thread=True,
)
def deliveries(
    session: NamedDependency[Session],
    status: Annotated[DeliveryStatus | None, QueryParameter()] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
) -> list[DeliveryRead]:
    return service.list_deliveries(session, status=status, limit=limit)


@post(
    "/v1/callbacks/deliveries/{delivery_id:int}/retry",
    tags=["callbacks"],
    summary="Send a dead-lettered delivery again",
    opt={"roles": [Role.admin]},
    status_code=200,
    sync_to_thread=True,
)
def retry(delivery_id: ItemId, session: NamedDependency[Session]) -> DeliveryRead:
    return service.retry_delivery(session, delivery_id)

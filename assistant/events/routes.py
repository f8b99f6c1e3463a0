"""The signed event webhook."""

from __future__ import annotations

from litestar import Request, Response, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import RawBody
from sqlmodel import Session

from assistant.events import service
from assistant.events.models import EventCreate, EventsAccepted
from assistant.openapi import signed_body
from assistant.schedules.service import ScheduleBook
from assistant.settings import Settings
from assistant.webhooks import read_signed_batch
from knowledge.pii import mask_pii

MAX_EVENTS_PER_DELIVERY = 1_000


@post(
    "/v1/webhooks/events",
    tags=["webhooks"],
    summary="A ticketing system delivers interaction events (one, or a batch under 'events')",
    description=(
        "Signed like the ticket webhook. Idempotent by source + event_id: a repeated event is counted in "
        "`duplicates` and changes nothing. 201 when something new was stored, 200 when all were duplicates."
    ),
    opt={"signed": True},
    sync_to_thread=True,
    operation_class=signed_body(EventCreate, batch_key="events"),
)
def events_webhook(
    request: Request,
    body: RawBody,
    state: State,
    session: NamedDependency[Session],
    schedule_book: NamedDependency[ScheduleBook],
    settings: NamedDependency[Settings],
) -> Response[EventsAccepted]:
    events = read_signed_batch(
        body,
        headers=request.headers,
        secrets=state.webhook_secrets,
        tolerance_seconds=settings.webhook_tolerance_seconds,
        key="events",
        model=EventCreate,
        noun="Event",
        limit=MAX_EVENTS_PER_DELIVERY,
        bulk_hint="use the bulk import for history.",
    )
    accepted = service.ingest_events(session, events, schedules=schedule_book, mask=mask_pii)
    return Response(accepted, status_code=201 if accepted.accepted else 200)

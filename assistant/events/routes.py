"""The signed event webhook."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import RawBody
from pydantic import ValidationError
from sqlmodel import Session

from assistant.errors import InvalidInput, validation_details
from assistant.events import service
from assistant.events.models import EventCreate, EventsAccepted
from assistant.schedules.service import ScheduleBook
from assistant.security import verify_signature
from assistant.settings import Settings
from assistant.tickets.routes import parse_json_object
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
)
def events_webhook(
    request: Request,
    body: RawBody,
    state: State,
    session: NamedDependency[Session],
    schedule_book: NamedDependency[ScheduleBook],
    settings: NamedDependency[Settings],
) -> Response[EventsAccepted]:
    raw = parse_json_object(body)
    batch = raw.get("events") if "events" in raw else [raw]
    first = batch[0] if isinstance(batch, list) and batch and isinstance(batch[0], dict) else {}
    # The signing source: the envelope's, else the first event's; every event must then share it.
    source = str(raw.get("source") or first.get("source", ""))
    verify_signature(
        secrets=state.webhook_secrets,
        source=source,
        headers=request.headers,
        body=body,
        tolerance_seconds=settings.webhook_tolerance_seconds,
    )
    events = parse_events(batch, source)
    accepted = service.ingest_events(session, events, schedules=schedule_book, mask=mask_pii)
    return Response(accepted, status_code=201 if accepted.accepted else 200)


def parse_events(batch: Any, source: str) -> list[EventCreate]:
    if not isinstance(batch, list) or not batch:
        raise InvalidInput("'events' must be a non-empty list of events.", code="validation_error")
    if len(batch) > MAX_EVENTS_PER_DELIVERY:
        raise InvalidInput(
            f"At most {MAX_EVENTS_PER_DELIVERY} events per delivery; use the bulk import for history.",
            code="too_many_events",
        )
    events = []
    for number, item in enumerate(batch):
        try:
            event = EventCreate.model_validate(item)
        except ValidationError as exc:
            raise InvalidInput(f"Event {number} is not valid.", details=validation_details(exc)) from None
        if event.source != source:
            raise InvalidInput("All events of one delivery must come from the signing source.", code="mixed_sources")
        events.append(event)
    return events

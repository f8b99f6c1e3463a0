"""The signed ticket webhook, a ticket with its decision history, and agents' re-routes."""

from __future__ import annotations

import json
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter, QueryParameter, RawBody
from pydantic import ValidationError
from sqlmodel import Session

from assistant.auth.models import Role
from assistant.db import MAX_ROW_ID
from assistant.errors import InvalidInput, validation_details
from assistant.events.models import EventKind
from assistant.events.service import record_console_event
from assistant.openapi import signed_body
from assistant.routing.engine import RoutingEngine
from assistant.routing.service import check_text_length
from assistant.schedules.service import ScheduleBook
from assistant.security import verify_signature
from assistant.settings import Settings
from assistant.tickets import service
from assistant.tickets.intake import ingest_delivery
from assistant.tickets.models import (
    ConsoleTicketCreate,
    DecisionRead,
    RerouteCreate,
    TicketCreate,
    TicketPage,
    TicketRead,
)

# Beyond a 64-bit key no ticket can exist; SQLite would refuse the number outright.
TicketId = Annotated[int, Parameter(ge=1, le=MAX_ROW_ID)]


@post(
    "/v1/webhooks/tickets",
    tags=["webhooks"],
    summary="A ticketing system delivers a ticket; answers with the routing decision",
    description=(
        "Signed with HMAC-SHA256 over `<X-Timestamp>.<raw body>` using the source's secret "
        "(`X-Signature: sha256=<hex>`), within a 5-minute window. 201 for a new delivery; "
        "200 with the stored decision when the same source + external_id + event_id arrives again, and with the "
        "ticket's current decision, changing nothing, for a delivery whose updated_at is older than the stored version."
    ),
    opt={"signed": True},
    operation_class=signed_body(TicketCreate),
)
async def ticket_webhook(
    request: Request,
    body: RawBody,
    state: State,
    routing: NamedDependency[RoutingEngine],
    settings: NamedDependency[Settings],
) -> Response[DecisionRead]:
    # The signature is checked before the ticket is validated: an unsigned caller learns nothing of the schema.
    raw = parse_json_object(body)
    verify_signature(
        secrets=state.webhook_secrets,
        source=raw.get("source"),
        headers=request.headers,
        body=body,
        tolerance_seconds=settings.webhook_tolerance_seconds,
    )
    payload = parse_ticket(raw, settings)
    decision, created = await ingest_delivery(payload, routing=routing, writer=state.ticket_writer, engine=state.engine)
    return Response(decision, status_code=201 if created else 200)


def parse_json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        raise InvalidInput("The request has no body; send a JSON object.", code="empty_body")
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidInput("The request body is not valid JSON.", code="malformed_json") from None
    if not isinstance(raw, dict):
        raise InvalidInput("The request body must be a JSON object.", code="validation_error")
    return raw


def parse_ticket(raw: dict[str, Any], settings: Settings) -> TicketCreate:
    try:
        payload = TicketCreate.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput("The ticket is not valid.", details=validation_details(exc)) from None
    check_text_length(max_text_chars=settings.max_text_chars, subject=payload.subject, body=payload.body)
    return payload


@get(
    "/v1/tickets/{ticket_id:int}",
    tags=["tickets"],
    summary="A ticket with its decision history",
    opt={"roles": [Role.admin, Role.agent]},
    sync_to_thread=True,
)
def get_ticket(ticket_id: TicketId, session: NamedDependency[Session]) -> TicketRead:
    return service.get_ticket(session, ticket_id=ticket_id)


@post(
    "/v1/tickets/{ticket_id:int}/reroute",
    tags=["tickets"],
    summary="An agent's correction; stored and used as a training label",
    opt={"roles": [Role.admin, Role.agent]},
    status_code=201,
    sync_to_thread=True,
)
def reroute_ticket(
    ticket_id: TicketId,
    data: JSONBody[RerouteCreate],
    session: NamedDependency[Session],
    routing: NamedDependency[RoutingEngine],
    schedule_book: NamedDependency[ScheduleBook],
) -> DecisionRead:
    classifier = routing.classifiers.current()
    intents = classifier.taxonomy or {}
    decision = service.reroute_ticket(
        session, ticket_id=ticket_id, correction=data, intents=intents, schedules=schedule_book
    )
    record_console_event(
        session,
        ticket_id=ticket_id,
        kind=EventKind.transferred,
        agent_id=data.agent_id,
        schedules=schedule_book,
    )
    return decision


@get(
    "/v1/tickets",
    tags=["tickets"],
    summary="Tickets, newest first: an agent's queue",
    opt={"roles": [Role.admin, Role.agent]},
    sync_to_thread=True,
)
def list_tickets(
    session: NamedDependency[Session],
    offset: Annotated[int, QueryParameter(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 25,
    department: Annotated[str | None, QueryParameter(min_length=1, max_length=64)] = None,
    triage: Annotated[bool | None, QueryParameter(description="only tickets waiting for human triage")] = None,
    solved: Annotated[bool | None, QueryParameter(description="only solved (true) or open (false) tickets")] = None,
    text: Annotated[str | None, QueryParameter(max_length=200, description="words in the subject or body")] = None,
) -> TicketPage:
    return service.list_tickets(
        session, offset=offset, limit=limit, department=department, triage=triage, solved=solved, text=text
    )


@post(
    "/v1/tickets",
    tags=["tickets"],
    summary="Open a ticket from the console (a call, a walk-in); answers with its routing decision",
    description=(
        "The service is the ticketing system of record for these tickets (source `console`): their creation, "
        "re-routes and solving are recorded as interaction events and count in the KPIs."
    ),
    opt={"roles": [Role.admin, Role.agent]},
    status_code=201,
    sync_to_thread=True,
)
def open_ticket(
    data: JSONBody[ConsoleTicketCreate],
    session: NamedDependency[Session],
    routing: NamedDependency[RoutingEngine],
    settings: NamedDependency[Settings],
    schedule_book: NamedDependency[ScheduleBook],
) -> DecisionRead:
    check_text_length(max_text_chars=settings.max_text_chars, subject=data.subject, body=data.body)
    decision, _ = service.open_console_ticket(session, engine=routing, request=data)
    assert decision.ticket_id is not None
    record_console_event(
        session,
        ticket_id=decision.ticket_id,
        kind=EventKind.ticket_created,
        agent_id=data.agent_id,
        schedules=schedule_book,
    )
    return decision

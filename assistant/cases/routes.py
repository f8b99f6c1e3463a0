"""Solving a ticket (which makes it a resolved case) and reading cases."""

from __future__ import annotations

from typing import Annotated

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter
from sqlmodel import Session

from assistant.auth.models import Role
from assistant.cases import service
from assistant.cases.models import CaseRead, SolveRequest
from assistant.db import MAX_ROW_ID
from assistant.events.models import EventKind
from assistant.events.service import record_console_event
from assistant.indexing.service import KnowledgeIndexes, TextEncoder
from assistant.routing.engine import RoutingEngine
from assistant.schedules.service import ScheduleBook

ItemId = Annotated[int, Parameter(ge=1, le=MAX_ROW_ID)]


@post(
    "/v1/tickets/{ticket_id:int}/solve",
    tags=["cases"],
    summary="Solve a ticket with its resolution and actions; it becomes a resolved case at once",
    description="Customer PII in the ticket and the resolution is masked before the case is stored or indexed.",
    opt={"roles": [Role.admin, Role.agent]},
    status_code=201,
    sync_to_thread=True,
)
def solve_ticket(
    ticket_id: ItemId,
    data: JSONBody[SolveRequest],
    session: NamedDependency[Session],
    text_encoder: NamedDependency[TextEncoder],
    routing: NamedDependency[RoutingEngine],
    indexes: NamedDependency[KnowledgeIndexes],
    schedule_book: NamedDependency[ScheduleBook],
) -> CaseRead:
    case = service.solve_ticket(
        session, ticket_id=ticket_id, request=data, encoder=text_encoder, language_of=routing.language.detect
    )
    indexes.sync_after_write()
    record_console_event(
        session,
        ticket_id=ticket_id,
        kind=EventKind.solved,
        agent_id=data.agent_id,
        schedules=schedule_book,
    )
    return case


@get(
    "/v1/cases/{case_id:int}",
    tags=["cases"],
    summary="One resolved case",
    opt={"roles": [Role.admin, Role.agent]},
    sync_to_thread=True,
)
def get_case(case_id: ItemId, session: NamedDependency[Session]) -> CaseRead:
    return service.get_case(session, case_id)

"""One-line dependency providers over what the lifespan put on ``app.state``."""

from __future__ import annotations

from collections.abc import Iterator

from litestar.datastructures import State
from sqlmodel import Session

from assistant.assist.service import AssistEngine
from assistant.faq.search import PortalSearch
from assistant.indexing.service import KnowledgeIndexes, TextEncoder
from assistant.routing.engine import RoutingEngine
from assistant.schedules.service import ScheduleBook
from assistant.settings import Settings


def provide_session(state: State) -> Iterator[Session]:
    with Session(state.engine, expire_on_commit=False) as session:
        yield session


def provide_routing(state: State) -> RoutingEngine:
    return state.routing


def provide_settings(state: State) -> Settings:
    return state.settings


def provide_text_encoder(state: State) -> TextEncoder:
    return state.text_encoder


def provide_indexes(state: State) -> KnowledgeIndexes:
    return state.indexes


def provide_assist(state: State) -> AssistEngine:
    return state.assist


def provide_portal_search(state: State) -> PortalSearch:
    return state.portal_search


def provide_schedule_book(state: State) -> ScheduleBook:
    return state.schedule_book

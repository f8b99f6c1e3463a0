"""Suggestions for agents, their verdicts, and the live suggestion socket."""

from __future__ import annotations

from typing import Any

from litestar import WebSocket, post, websocket
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlmodel import Session

from assistant.assist import service
from assistant.assist.live import LiveAssist
from assistant.assist.models import FeedbackCreate, FeedbackRead, SuggestionRequest, Suggestions
from assistant.assist.service import AssistEngine
from assistant.auth.models import Role
from assistant.settings import Settings

AGENT_ROLES = [Role.admin, Role.agent]


@post(
    "/v1/suggestions",
    tags=["assist"],
    summary="Similar resolved cases, FAQ entries and next-best actions for a ticket or a text",
    description="Every action names its evidence: the resolved cases that took it and the playbook that lists it.",
    opt={"roles": AGENT_ROLES},
    status_code=200,
    sync_to_thread=True,
)
def suggest(
    data: JSONBody[SuggestionRequest], session: NamedDependency[Session], assist: NamedDependency[AssistEngine]
) -> Suggestions:
    return assist.suggest(session, data)


@post(
    "/v1/suggestions/feedback",
    tags=["assist"],
    summary="An agent accepts or rejects a suggestion; used in ranking from then on",
    opt={"roles": AGENT_ROLES},
    status_code=201,
    sync_to_thread=True,
)
def suggestion_feedback(
    data: JSONBody[FeedbackCreate], session: NamedDependency[Session], assist: NamedDependency[AssistEngine]
) -> FeedbackRead:
    return service.record_feedback(session, data, stats=assist.feedback)


@websocket("/v1/assist/live", opt={"roles": AGENT_ROLES})
async def live_suggestions(socket: WebSocket[Any, Any, Any], state: State) -> None:
    """Send ``{"type": "text"|"append"|"reset", "text": ...}``; receive ``{"type": "suggestions", ...}``."""
    settings: Settings = state.settings
    await LiveAssist(socket, assist=state.assist, engine=state.engine, max_text_chars=settings.max_text_chars).run()

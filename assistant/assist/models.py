"""Suggestions for an agent, and the agent's verdict on them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import field_validator, model_validator
from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from assistant.db import MAX_ROW_ID, UTCDateTime, utcnow
from assistant.tickets.models import not_a_flag, reject_unstorable


class SuggestionKind(StrEnum):
    action = "action"
    case = "case"
    faq = "faq"


class Verdict(StrEnum):
    accepted = "accepted"
    rejected = "rejected"


class SuggestionFeedback(SQLModel, table=True):
    __tablename__ = "suggestion_feedback"
    __table_args__ = (Index("ix_suggestion_feedback_kind_target", "kind", "target"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=8)
    # An action's name, or a case's or FAQ entry's id.
    target: str = Field(max_length=128)
    intent: str | None = Field(default=None, max_length=128)
    verdict: str = Field(max_length=8)
    ticket_id: int | None = Field(default=None, foreign_key="tickets.id", ondelete="CASCADE")
    agent_id: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# The most cases, FAQ entries or actions one request may ask to be shown.
MAX_SHOWN = 20


class SuggestionRequest(SQLModel):
    """Suggestions for a stored ticket, or for a free text (a call's transcript so far)."""

    ticket_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)
    text: str | None = Field(default=None, max_length=20_000)
    cases: int = Field(default=5, ge=0, le=MAX_SHOWN)
    faq: int = Field(default=3, ge=0, le=MAX_SHOWN)
    actions: int = Field(default=5, ge=0, le=MAX_SHOWN)

    @field_validator("ticket_id", "cases", "faq", "actions", mode="before")
    @classmethod
    def _not_a_flag(cls, value: Any) -> Any:
        return not_a_flag(value)

    @field_validator("text")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return reject_unstorable(value)

    @model_validator(mode="after")
    def _one_subject(self) -> SuggestionRequest:
        has_text = bool(self.text and self.text.strip())
        if (self.ticket_id is None) == (not has_text):
            raise ValueError("give either ticket_id or a non-empty text, not both")
        return self


class FeedbackCreate(SQLModel):
    kind: SuggestionKind
    target: str = Field(min_length=1, max_length=128)
    verdict: Verdict
    intent: str | None = Field(default=None, max_length=128)
    ticket_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)
    agent_id: str | None = Field(default=None, max_length=128)

    @field_validator("ticket_id", mode="before")
    @classmethod
    def _not_a_flag(cls, value: Any) -> Any:
        return not_a_flag(value)

    @model_validator(mode="before")
    @classmethod
    def _id_as_text(cls, data: Any) -> Any:
        # Suggestions name cases and FAQ entries by numeric id: the same number is a valid target. An action is
        # named by its text, never by a number.
        if isinstance(data, dict) and data.get("kind") in ("case", "faq"):
            target = data.get("target")
            if isinstance(target, int) and not isinstance(target, bool):
                return {**data, "target": str(target)}
        return data

    @field_validator("target", "intent", "agent_id")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return reject_unstorable(value)


class FeedbackRead(SQLModel):
    id: int
    kind: str
    target: str
    verdict: str
    intent: str | None
    ticket_id: int | None
    agent_id: str | None
    created_at: datetime


class QueryInfo(SQLModel):
    intent: str | None
    department: str | None
    confidence: float | None
    language: str | None


class CaseSuggestion(SQLModel):
    id: int
    score: float
    summary: str
    resolution: str
    actions: list[str]
    intent: str | None
    first_contact: bool


class FaqSuggestion(SQLModel):
    id: int
    score: float
    question: str
    answer_excerpt: str
    language: str | None


class ActionSuggestion(SQLModel):
    action: str
    score: float
    # Evidence: the resolved cases that took this action, and the playbook that lists it.
    case_ids: list[int]
    playbook: str | None
    accepted: int
    rejected: int


class Suggestions(SQLModel):
    ticket_id: int | None
    query: QueryInfo
    cases: list[CaseSuggestion]
    faq: list[FaqSuggestion]
    actions: list[ActionSuggestion]
    index_revision: int

"""Resolved cases: what a solved ticket leaves behind for the next agent."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from pydantic import ConfigDict, field_validator
from sqlalchemy import JSON, Column, LargeBinary
from sqlmodel import Field, SQLModel

from assistant.db import UTCDateTime, utcnow
from assistant.tickets.models import reject_unstorable, utc_moment

ACTION_NAME = re.compile(r"[a-z0-9][a-z0-9_\-]{0,63}")
MAX_ACTIONS = 30


def clean_actions(actions: list[str]) -> list[str]:
    """Action names as agents' tools know them (``verify-identity``), in the order taken, each once."""
    cleaned: list[str] = []
    for action in actions:
        if not isinstance(action, str):
            raise ValueError(f"action {action!r} is not a name like 'verify-identity'")
        name = action.strip().lower()
        if not ACTION_NAME.fullmatch(name):
            raise ValueError(f"action {action[:70]!r} is not a name like 'verify-identity' (a-z, 0-9, '-', '_')")
        if name not in cleaned:
            cleaned.append(name)
    return cleaned


class ResolvedCase(SQLModel, table=True):
    __tablename__ = "resolved_cases"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="tickets.id", ondelete="CASCADE", unique=True)
    external_id: str | None = Field(default=None, max_length=128, unique=True)
    # Both texts are stored PII-masked: they are shown to other agents and indexed.
    summary: str
    resolution: str
    actions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    intent: str | None = Field(default=None, max_length=128)
    department: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=8)
    first_contact: bool = False
    # Kept only so that one customer's data can be found and erased; never shown.
    customer_ref: str | None = Field(default=None, max_length=128, index=True)
    agent_id: str | None = Field(default=None, max_length=128)
    solved_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    embedding: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    embedding_model: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


@dataclass(frozen=True, slots=True)
class CaseEvidence:
    """What suggestions read of a resolved case to rank it and show it."""

    id: int
    summary: str
    resolution: str
    actions: tuple[str, ...]
    intent: str | None
    first_contact: bool
    ticket_id: int | None  # the ticket it was solved from; None for an imported case


class SolveRequest(SQLModel):
    """An agent solves a ticket: what fixed it and the actions taken."""

    # A misspelt field must not be dropped quietly (a "first_contact" sent under another name would be lost).
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    resolution: str = Field(min_length=1, max_length=20_000)
    actions: list[str] = Field(default_factory=list, max_length=MAX_ACTIONS)
    agent_id: str | None = Field(default=None, max_length=128)
    first_contact: bool = False

    @field_validator("resolution")
    @classmethod
    def _resolution(cls, value: str) -> str:
        reject_unstorable(value)
        if not value.strip():
            raise ValueError("may not be blank")
        return value.strip()

    @field_validator("actions")
    @classmethod
    def _actions(cls, value: list[str]) -> list[str]:
        return clean_actions(value)

    @field_validator("agent_id")
    @classmethod
    def _agent(cls, value: str | None) -> str | None:
        return reject_unstorable(value)


class CaseImport(SQLModel):
    """One historical resolved case in a bulk import."""

    text: str = Field(min_length=1, max_length=20_000)
    resolution: str = Field(min_length=1, max_length=20_000)
    actions: list[str] = Field(default_factory=list, max_length=MAX_ACTIONS)
    intent: str | None = Field(default=None, max_length=128)
    department: str | None = Field(default=None, max_length=64)
    first_contact: bool = False
    customer_ref: str | None = Field(default=None, max_length=128)
    external_id: str | None = Field(default=None, min_length=1, max_length=128)
    solved_at: datetime | None = None

    @field_validator("text", "resolution", "intent", "department", "customer_ref", "external_id")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return reject_unstorable(value)

    @field_validator("solved_at")
    @classmethod
    def _solved_at(cls, value: datetime | None) -> datetime | None:
        # As an event's time: a zone required, and no date from a broken clock (year 9999 would top every list).
        return None if value is None else utc_moment(value, "solved_at", bounded=True)

    @field_validator("actions", mode="before")
    @classmethod
    def _actions(cls, value: object) -> object:
        # CSV cells carry actions as "verify-identity;offer-refund".
        if isinstance(value, str):
            value = [part for part in re.split(r"[;,|]", value) if part.strip()]
        return clean_actions(value) if isinstance(value, list) else value


class CaseRead(SQLModel):
    id: int
    ticket_id: int | None
    summary: str
    resolution: str
    actions: list[str]
    intent: str | None
    department: str | None
    language: str | None
    first_contact: bool
    solved_at: datetime


class CaseImportReport(SQLModel):
    created: int
    updated: int
    skipped: int

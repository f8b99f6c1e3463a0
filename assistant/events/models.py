"""Interaction events as delivered, and the per-ticket timings the KPIs aggregate."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import field_validator
from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from assistant.db import UTCDateTime, utcnow
from assistant.tickets.models import Channel, check_source_name, reject_unstorable, trimmed_name, utc_moment


class EventKind(StrEnum):
    ticket_created = "ticket_created"
    agent_reply = "agent_reply"  # public
    customer_reply = "customer_reply"
    auto_reply = "auto_reply"  # never a response
    internal_note = "internal_note"  # never a response
    transferred = "transferred"  # to another department
    solved = "solved"
    reopened = "reopened"
    closed = "closed"


class ActorType(StrEnum):
    agent = "agent"
    customer = "customer"
    system = "system"


class InteractionEvent(SQLModel, table=True):
    __tablename__ = "interaction_events"
    __table_args__ = (
        UniqueConstraint("source", "event_id", name="uq_interaction_events_source_event_id"),
        Index("ix_interaction_events_ticket", "source", "ticket_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    event_id: str = Field(max_length=128)
    # The ticketing system's id of the ticket (our tickets are keyed by source + external id too).
    ticket_id: str = Field(max_length=128)
    kind: str = Field(max_length=16)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    actor_type: str | None = Field(default=None, max_length=16)
    actor_id: str | None = Field(default=None, max_length=128)
    channel: str | None = Field(default=None, max_length=16)
    # For ticket_created and transferred: the department the ticket is (now) with.
    department: str | None = Field(default=None, max_length=64)
    text: str | None = Field(default=None)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class EventCreate(SQLModel):
    """One event as a ticketing system sends it (webhook or bulk import)."""

    source: str = Field(min_length=1, max_length=64)
    event_id: str = Field(min_length=1, max_length=128)
    ticket_id: str = Field(min_length=1, max_length=128)
    kind: EventKind
    occurred_at: datetime
    actor_type: ActorType | None = None
    actor_id: str | None = Field(default=None, max_length=128)
    channel: Channel | None = None
    department: str | None = Field(default=None, min_length=1, max_length=64)
    text: str | None = Field(default=None, max_length=20_000)

    @field_validator("source")
    @classmethod
    def _source_name(cls, value: str) -> str:
        return check_source_name(value)

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return utc_moment(value, "occurred_at", bounded=True)

    @field_validator("department")
    @classmethod
    def _trimmed(cls, value: str | None) -> str | None:
        return trimmed_name(value)

    @field_validator("event_id", "ticket_id", "actor_id", "department", "text")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return reject_unstorable(value)


class EventsAccepted(SQLModel):
    accepted: int
    duplicates: int
    tickets: int


class TicketTiming(SQLModel, table=True):
    """One ticket's timeline facts, recomputed from all its events whenever one arrives."""

    __tablename__ = "ticket_timings"
    __table_args__ = (
        UniqueConstraint("source", "ticket_id", name="uq_ticket_timings_source_ticket_id"),
        Index("ix_ticket_timings_created_at", "created_at"),
        Index("ix_ticket_timings_last_solved_at", "last_solved_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    ticket_id: str = Field(max_length=128)
    department: str | None = Field(default=None, max_length=64)
    channel: str | None = Field(default=None, max_length=16)
    agent: str | None = Field(default=None, max_length=128)
    language: str | None = Field(default=None, max_length=8)
    # Whether the service routed the ticket, and the created time these timings took from it (none where its events
    # alone timed it): with the department, channel and language here, what a recomputation reads from the ticket's
    # row once an erasure has deleted it.
    routed: bool = False
    ticket_created_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_day: str = Field(max_length=10)
    created_week: str = Field(max_length=10)
    # When the clock for a first reply started: creation, or for an agent-made ticket the customer's first message.
    reply_due_from: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_reply_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_solved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_solved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The newest reopened event, counted or not: a ticket solved here (a resolved case) is open again after it.
    last_reopened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    solved_day: str | None = Field(default=None, max_length=10)
    solved_week: str | None = Field(default=None, max_length=10)
    solved: bool = False
    agent_replies: int = 0
    reopens: int = 0
    transfers: int = 0
    fcr: bool | None = None
    frt_seconds: float | None = None
    frt_business_seconds: float | None = None
    first_resolution_seconds: float | None = None
    first_resolution_business_seconds: float | None = None
    full_resolution_seconds: float | None = None
    full_resolution_business_seconds: float | None = None
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

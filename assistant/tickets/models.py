"""Tickets, their routing decisions and the webhook deliveries that brought them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, ValidationInfo, field_validator, model_validator
from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from assistant.db import UTCDateTime, utcnow

SOURCE_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
EARLIEST_MOMENT = datetime(1970, 1, 1, tzinfo=UTC)


def reject_unstorable(value: str | None) -> str | None:
    """Text no database can store: NUL (PostgreSQL refuses it; no help-desk text needs one) and lone surrogates
    (a JSON escape such as \\ud800 without its pair, from a system that cut an emoji in half: not text at all)."""
    if value is None:
        return value
    if "\x00" in value:
        raise ValueError("text may not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text may not contain a lone surrogate (half of an escaped character pair)") from None
    return value


def not_a_flag(value: Any) -> Any:
    """For a whole-number field, before validation: lax integers stay (a CSV import brings "4"), but JSON true
    would be read as 1 (ticket 1, a CSAT of 1)."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true or false")
    return value


def trimmed_name(value: str | None) -> str | None:
    """A department's or intent's name without surrounding blanks: "billing " would become a department of its
    own in every report grouped by department."""
    if value is None:
        return None
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


def blank_as_none(value: Any) -> Any:
    """A customer reference of blanks only names nobody: none, not one customer that every ticket sent with it
    would share (their deflection counted together, all erased with one)."""
    return None if isinstance(value, str) and not value.strip() else value


# A customer reference as integrations send one: blanks are none.
SentCustomerRef = Annotated[str | None, BeforeValidator(blank_as_none)]


def check_source_name(value: str) -> str:
    if not SOURCE_NAME.fullmatch(value):
        raise ValueError("source may hold only letters, digits, '_', '.' and '-'")
    return value


def utc_moment(value: datetime, name: str, *, bounded: bool = False) -> datetime:
    """An aware time in UTC. ``bounded``: between 1970 and tomorrow, for times that durations are measured
    from, where a date from a broken clock would poison the figures."""
    if value.tzinfo is None:
        raise ValueError(f"{name} needs a time zone, e.g. 2026-11-23T09:30:00+01:00")
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{name} is outside the range of dates this service stores") from None
    if bounded and not EARLIEST_MOMENT <= value <= datetime.now(UTC) + timedelta(days=1):
        raise ValueError(f"{name} must lie between 1970 and tomorrow")
    return value


class Channel(StrEnum):
    email = "email"
    chat = "chat"
    phone = "phone"
    web = "web"
    social = "social"
    api = "api"
    other = "other"


class DecisionKind(StrEnum):
    model = "model"
    rule = "rule"
    correction = "correction"


class TicketBase(SQLModel):
    source: str = Field(min_length=1, max_length=64)
    external_id: str = Field(min_length=1, max_length=128)
    subject: str = Field(default="", max_length=1_000)
    body: str = Field(default="")
    channel: str = Field(default=Channel.other.value, max_length=16)
    customer_ref: str | None = Field(default=None, max_length=128, index=True)
    customer_tier: str | None = Field(default=None, max_length=32)


class Ticket(TicketBase, table=True):
    __tablename__ = "tickets"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_tickets_source_external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    language: str | None = Field(default=None, max_length=8)
    department: str | None = Field(default=None, max_length=64, index=True)
    intent: str | None = Field(default=None, max_length=128)
    needs_human_triage: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The ticketing system's own time of the newest version stored: a delivery of an older one changes nothing.
    source_updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TicketCreate(TicketBase):
    """The ticket webhook's body."""

    event_id: str = Field(
        min_length=1,
        max_length=128,
        description="The ticketing system's id of this delivery: the same source, external_id and event_id again "
        "answers with the stored decision and stores nothing.",
    )
    customer_ref: SentCustomerRef = Field(
        default=None, max_length=128, description="Who the customer is; blank means nobody. Erasure finds them by it."
    )
    channel: Channel = Channel.other
    created_at: datetime | None = Field(
        default=None,
        description="When the ticket was opened, with a time zone; response times count from it. Default: now.",
    )
    updated_at: datetime | None = Field(
        default=None,
        description="When the ticketing system last changed the ticket, as this delivery has it, with a time zone. "
        "Webhooks are not delivered in order: a delivery older than the version stored changes nothing and answers "
        "200 with the ticket's decision as it stands.",
    )

    @field_validator("source")
    @classmethod
    def _source_name(cls, value: str) -> str:
        return check_source_name(value)

    @field_validator("created_at", "updated_at")
    @classmethod
    def _aware(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        # The first response time is measured from it: a year-9999 ticket would also top every newest-first list.
        return None if value is None else utc_moment(value, str(info.field_name), bounded=True)

    @field_validator("source", "external_id", "event_id", "subject", "body", "customer_ref", "customer_tier")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return reject_unstorable(value)

    @property
    def routed_channel(self) -> str | None:
        """The channel to route by: none where the delivery leaves it out (the ticket writer then checks the rules
        with the stored one, or with "other" for a new ticket), not the default it would otherwise read as."""
        return self.channel.value if "channel" in self.model_fields_set else None

    @model_validator(mode="after")
    def _has_text(self) -> TicketCreate:
        if not (self.subject.strip() or self.body.strip()):
            raise ValueError("a ticket needs a subject or a body with some text")
        if self.created_at and self.updated_at and self.updated_at < self.created_at:
            raise ValueError("updated_at may not be earlier than created_at")
        return self


class RoutingDecisionBase(SQLModel):
    department: str = Field(max_length=64)
    intent: str | None = Field(default=None, max_length=128)
    confidence: float | None = None
    intent_confidence: float | None = None
    alternatives: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    language: str | None = Field(default=None, max_length=8)
    urgency: str | None = Field(default=None, max_length=16)
    needs_human_triage: bool = False
    triage_reason: str | None = Field(default=None, max_length=32)
    rule: str | None = Field(default=None, max_length=64)
    model_version: str | None = Field(default=None, max_length=64)


class RoutingDecision(RoutingDecisionBase, table=True):
    __tablename__ = "routing_decisions"
    __table_args__ = (Index("ix_routing_decisions_ticket_id_id", "ticket_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="tickets.id", ondelete="CASCADE")
    kind: str = Field(default=DecisionKind.model.value, max_length=16)
    actor: str | None = Field(default=None, max_length=128)
    note: str | None = Field(default=None, max_length=1_000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WebhookDelivery(SQLModel, table=True):
    """One accepted delivery; its key makes a repeated delivery return the stored decision."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("source", "external_id", "event_id", name="uq_webhook_deliveries_key"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    external_id: str = Field(max_length=128)
    event_id: str = Field(max_length=128)
    ticket_id: int = Field(foreign_key="tickets.id", ondelete="CASCADE")
    decision_id: int = Field(foreign_key="routing_decisions.id", ondelete="CASCADE")
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DecisionRead(RoutingDecisionBase):
    decision_id: int | None = None
    ticket_id: int | None = None
    kind: str = DecisionKind.model.value
    actor: str | None = None
    note: str | None = None
    created_at: datetime | None = None
    replayed: bool = False


class TicketRead(TicketBase):
    id: int
    language: str | None
    department: str | None
    intent: str | None
    needs_human_triage: bool
    created_at: datetime
    received_at: datetime
    updated_at: datetime
    source_updated_at: datetime | None = None
    decisions: list[DecisionRead] = []


class RerouteCreate(SQLModel):
    """An agent's correction: the department (and intent, when known) the ticket really belongs to."""

    # A misspelt field must not be dropped quietly (a "intent" sent under another name would be lost).
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    department: str = Field(min_length=1, max_length=64)
    intent: str | None = Field(default=None, min_length=1, max_length=128)
    agent_id: str | None = Field(default=None, max_length=128)
    note: str | None = Field(default=None, max_length=1_000)

    @field_validator("department", "intent", "agent_id", "note")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return reject_unstorable(value)

    @field_validator("department", "intent")
    @classmethod
    def _trimmed(cls, value: str | None) -> str | None:
        return trimmed_name(value)


# Tickets agents open in the browser console (a phone call, a walk-in): the service is their system of record.
CONSOLE_SOURCE = "console"


class ConsoleTicketCreate(SQLModel):
    """A ticket an agent opens in the console from a conversation in front of them."""

    subject: str = Field(default="", max_length=1_000)
    body: str = Field(default="")
    channel: Channel = Channel.phone
    customer_ref: str | None = Field(default=None, min_length=1, max_length=128)
    customer_tier: str | None = Field(default=None, max_length=32)
    agent_id: str | None = Field(default=None, max_length=128)

    @field_validator("subject", "body", "customer_ref", "customer_tier", "agent_id")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return reject_unstorable(value)

    @field_validator("customer_ref")
    @classmethod
    def _reference(cls, value: str | None) -> str | None:
        # Typed by an agent: blanks are a slip to point out, not a customer to leave out quietly.
        if value is not None and not value.strip():
            raise ValueError("customer_ref must not be blank; leave it out for no customer")
        return value

    @model_validator(mode="after")
    def _has_text(self) -> ConsoleTicketCreate:
        if not (self.subject.strip() or self.body.strip()):
            raise ValueError("a ticket needs a subject or a body with some text")
        return self


class TicketSummary(SQLModel):
    """One line of an agent's ticket list."""

    id: int
    source: str
    external_id: str
    subject: str
    excerpt: str
    channel: str
    department: str | None
    intent: str | None
    language: str | None
    needs_human_triage: bool
    solved: bool
    created_at: datetime


class TicketPage(SQLModel):
    total: int
    offset: int
    tickets: list[TicketSummary]


class RouteRequest(SQLModel):
    text: str = Field(default="")
    subject: str = Field(default="", max_length=1_000)
    body: str = Field(default="")
    channel: Channel = Channel.other
    customer_tier: str | None = Field(default=None, max_length=32)

    @model_validator(mode="after")
    def _has_text(self) -> RouteRequest:
        if not (self.text.strip() or self.subject.strip() or self.body.strip()):
            raise ValueError("give some text to route: text, or subject and body")
        return self

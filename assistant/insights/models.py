"""Portal searches as logged for deflection, the gap report's kept ticket vectors, and the shapes of the
insight reports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary
from sqlmodel import Field, SQLModel

from assistant.db import UTCDateTime, utcnow


class TicketVector(SQLModel, table=True):
    """A ticket's text as the gap report embedded it, kept so the next report over the same tickets need not
    embed them again. Valid only for the model and the text it was made from; deleted with its ticket (a
    customer's erasure among others)."""

    __tablename__ = "ticket_vectors"

    ticket_id: int = Field(primary_key=True, foreign_key="tickets.id", ondelete="CASCADE")
    model: str = Field(max_length=128)
    # Of the text the model read: a ticket whose text has changed since is embedded again.
    text_digest: str = Field(max_length=32)
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class PortalSearchLog(SQLModel, table=True):
    """One search on the customer portal: whether a ticket followed is what deflection counts."""

    __tablename__ = "portal_searches"
    __table_args__ = (
        Index("ix_portal_searches_searched_at", "searched_at"),
        Index("ix_portal_searches_customer", "customer_ref", "searched_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    searched_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # UTC day and the Monday of its week, for portable SQL grouping (as ticket timings do).
    searched_day: str | None = Field(default=None, max_length=10)
    searched_week: str | None = Field(default=None, max_length=10)
    customer_ref: str | None = Field(default=None, max_length=128)
    # PII-masked, cut to what the model reads: enough to see what customers look for.
    query: str = Field(max_length=1_000)
    results: int = 0
    top_score: float | None = None
    top_faq_id: int | None = None

"""Portal searches as logged for deflection, and the shapes of the insight reports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from assistant.db import UTCDateTime, utcnow


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

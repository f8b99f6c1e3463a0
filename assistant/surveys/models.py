"""Survey responses as delivered by a survey tool or a ticketing system, and as stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import field_validator, model_validator
from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from assistant.db import UTCDateTime, utcnow
from assistant.tickets.models import SentCustomerRef, check_source_name, not_a_flag, reject_unstorable, utc_moment

MAX_COMMENT_CHARS = 5_000
# The usual scales: CSAT 1–5 (4–5 satisfied), CES 1–7 (higher: easier), NPS 0–10 (9–10 promoters, 0–6 detractors).
CSAT_RANGE = (1, 5)
CES_RANGE = (1, 7)
NPS_RANGE = (0, 10)


class SurveyResponse(SQLModel, table=True):
    __tablename__ = "survey_responses"
    __table_args__ = (
        UniqueConstraint("source", "response_id", name="uq_survey_responses_source_response_id"),
        Index("ix_survey_responses_ticket", "source", "ticket_id"),
        Index("ix_survey_responses_responded_at", "responded_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    response_id: str = Field(max_length=128)
    # The ticketing system's ticket id, as in interaction events; None for a survey about no ticket.
    ticket_id: str | None = Field(default=None, max_length=128)
    customer_ref: str | None = Field(default=None, max_length=128, index=True)
    csat: int | None = None
    ces: int | None = None
    nps: int | None = None
    comment: str | None = Field(default=None)
    responded_at: datetime = Field(sa_type=UTCDateTime)
    responded_day: str = Field(max_length=10)
    responded_week: str = Field(max_length=10)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Set by a customer's erasure: a later delivery of this response may change its scores, never bring
    # the comment or the customer reference back.
    erased_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SurveyCreate(SQLModel):
    """One response: at least one of csat, ces, nps; a later delivery with the same id replaces it."""

    source: str = Field(min_length=1, max_length=64)
    response_id: str = Field(min_length=1, max_length=128)
    ticket_id: str | None = Field(default=None, min_length=1, max_length=128)
    customer_ref: SentCustomerRef = Field(default=None, min_length=1, max_length=128)
    csat: int | None = Field(default=None, ge=CSAT_RANGE[0], le=CSAT_RANGE[1])
    ces: int | None = Field(default=None, ge=CES_RANGE[0], le=CES_RANGE[1])
    nps: int | None = Field(default=None, ge=NPS_RANGE[0], le=NPS_RANGE[1])
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)
    responded_at: datetime

    @field_validator("source")
    @classmethod
    def _source_name(cls, value: str) -> str:
        return check_source_name(value)

    @field_validator("responded_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return utc_moment(value, "responded_at", bounded=True)

    @field_validator("csat", "ces", "nps", mode="before")
    @classmethod
    def _not_a_flag(cls, value: Any) -> Any:
        return not_a_flag(value)

    @field_validator("response_id", "ticket_id", "customer_ref", "comment")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return reject_unstorable(value)

    @model_validator(mode="after")
    def _has_a_score(self) -> SurveyCreate:
        if self.csat is None and self.ces is None and self.nps is None:
            raise ValueError("a survey response needs at least one of csat (1–5), ces (1–7) or nps (0–10)")
        return self


class SurveysAccepted(SQLModel):
    accepted: int
    updated: int
    duplicates: int

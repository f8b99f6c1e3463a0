"""What an erasure removed."""

from __future__ import annotations

from sqlmodel import SQLModel


class ErasureReport(SQLModel):
    customer_ref: str
    tickets: int
    resolved_cases: int
    events_scrubbed: int
    survey_responses_scrubbed: int = 0
    portal_searches_scrubbed: int = 0

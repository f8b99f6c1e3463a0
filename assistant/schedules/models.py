"""Business-hour schedules per department, as stored and as written through the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from assistant.db import UTCDateTime, utcnow

# The schedule of every department that has none of its own.
DEFAULT_DEPARTMENT = "*"


class BusinessHours(SQLModel, table=True):
    __tablename__ = "business_hours"

    id: int | None = Field(default=None, primary_key=True)
    department: str = Field(max_length=64, unique=True)
    # BusinessSchedule.to_dict(): {"timezone", "hours": {"mon": ["09:00-17:00"], ...}, "holidays": [...]}
    schedule: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ScheduleRead(SQLModel):
    department: str
    timezone: str
    hours: dict[str, list[str]]
    holidays: list[str]

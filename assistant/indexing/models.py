"""The change log that every process follows to keep its vector indexes in step with the database."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from assistant.db import UTCDateTime, utcnow


class Collection(StrEnum):
    faq = "faq"
    cases = "cases"


class ChangeOp(StrEnum):
    upsert = "upsert"
    delete = "delete"


class IndexChange(SQLModel, table=True):
    """One row per change to an indexed item; its id is the database's index revision."""

    __tablename__ = "index_changes"
    __table_args__ = (Index("ix_index_changes_collection_id", "collection", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    collection: str = Field(max_length=16)
    item_id: int
    op: str = Field(max_length=8)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

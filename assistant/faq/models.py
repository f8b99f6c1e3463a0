"""FAQ entries as stored, as written by an admin, and as the portal sees them."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import ConfigDict, field_validator
from sqlalchemy import JSON, Column, LargeBinary
from sqlmodel import Field, SQLModel

from assistant.db import UTCDateTime, utcnow
from assistant.tickets.models import reject_unstorable

TAG_CHARS = 64
ISO_639_1 = re.compile(r"[a-z]{2}")
MAX_TAGS = 20


class FaqEntry(SQLModel, table=True):
    __tablename__ = "faq_entries"

    id: int | None = Field(default=None, primary_key=True)
    external_id: str | None = Field(default=None, max_length=128, unique=True)
    question: str = Field(max_length=2_000)
    answer: str
    language: str | None = Field(default=None, max_length=8)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    published: bool = True
    # The vector is kept with the row so that any process can rebuild its index without the model.
    embedding: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    embedding_model: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class FaqFields(SQLModel):
    question: str = Field(min_length=1, max_length=2_000)
    answer: str = Field(min_length=1, max_length=20_000)
    language: str | None = Field(default=None, min_length=2, max_length=8)
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    published: bool = True

    @field_validator("question", "answer")
    @classmethod
    def _has_text(cls, value: str) -> str:
        reject_unstorable(value)
        if not value.strip():
            raise ValueError("may not be blank")
        return value.strip()

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return _clean_tags(value)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        return iso_language(value)


class FaqCreate(FaqFields):
    external_id: str | None = Field(default=None, min_length=1, max_length=128)

    @field_validator("external_id")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return reject_unstorable(value)


class FaqUpdate(SQLModel):
    """A partial update: fields left out keep their value."""

    # A misspelt field ("publised": false) must not answer 200 and leave the entry as it was, live on the portal.
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    question: str | None = Field(default=None, min_length=1, max_length=2_000)
    answer: str | None = Field(default=None, min_length=1, max_length=20_000)
    language: str | None = Field(default=None, min_length=2, max_length=8)
    tags: list[str] | None = Field(default=None, max_length=MAX_TAGS)
    published: bool | None = None

    @field_validator("question", "answer")
    @classmethod
    def _has_text(cls, value: str | None) -> str | None:
        if value is None:
            return None
        reject_unstorable(value)
        if not value.strip():
            raise ValueError("may not be blank")
        return value.strip()

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _clean_tags(value)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        return iso_language(value)


def iso_language(value: str | None) -> str | None:
    """A two-letter ISO 639-1 code, lower case: what language detection names a customer's text with, so an
    entry in "klingon" or "en-GB" would never count as in the customer's language."""
    if value is None:
        return None
    code = value.strip().lower()
    if not ISO_639_1.fullmatch(code):
        raise ValueError("language must be a two-letter ISO 639-1 code, e.g. en or de")
    return code


def _clean_tags(tags: list[str]) -> list[str]:
    cleaned: list[str] = []
    for tag in tags:
        reject_unstorable(tag)
        tag = tag.strip().lower()
        if not tag or len(tag) > TAG_CHARS:
            raise ValueError(f"each tag needs 1 to {TAG_CHARS} characters")
        if tag not in cleaned:
            cleaned.append(tag)
    return cleaned


class FaqRead(SQLModel):
    id: int
    external_id: str | None
    question: str
    answer: str
    language: str | None
    tags: list[str]
    published: bool
    created_at: datetime
    updated_at: datetime


class FaqHit(SQLModel):
    """One portal search result: a published entry and how well it matches."""

    id: int
    score: float
    question: str
    answer: str
    answer_excerpt: str
    language: str | None
    tags: list[str]
    # False: the entry is in another language than the question (none in the customer's language fitted).
    in_query_language: bool | None = None


class FaqSearchResult(SQLModel):
    query: str
    # The question's language as detected; None when the text is too short to tell.
    language: str | None = None
    results: list[FaqHit]


class FaqImportReport(SQLModel):
    created: int
    updated: int
    skipped: int

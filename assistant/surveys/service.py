"""Taking in survey responses: idempotent by source + response id, comments PII-masked before storing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, update
from sqlmodel import Session, col, select

from assistant.db import utcnow, write_lock
from assistant.events.service import by_source, upsert_insert
from assistant.events.timeline import day_and_week
from assistant.surveys.models import SurveyCreate, SurveyResponse, SurveysAccepted

SURVEYS: Table = SurveyResponse.__table__  # type: ignore[attr-defined]
# The fields a repeated delivery may change; the keys never do.
VALUES = (
    "ticket_id",
    "customer_ref",
    "csat",
    "ces",
    "nps",
    "comment",
    "responded_at",
    "responded_day",
    "responded_week",
)


# What an erasure strips, and what a later delivery of an erased response therefore cannot set again.
ERASED = {"customer_ref": None, "comment": None}


def survey_row(survey: SurveyCreate, mask: Callable[[str], str]) -> dict[str, Any]:
    day, week = day_and_week(survey.responded_at)
    return {
        "source": survey.source,
        "response_id": survey.response_id,
        "ticket_id": survey.ticket_id,
        "customer_ref": survey.customer_ref,
        "csat": survey.csat,
        "ces": survey.ces,
        "nps": survey.nps,
        # A comment is free text like any other: it may carry an e-mail address or a card number.
        "comment": mask(survey.comment) if survey.comment and survey.comment.strip() else None,
        "responded_at": survey.responded_at,
        "responded_day": day,
        "responded_week": week,
        "received_at": utcnow(),
    }


def ingest_surveys(session: Session, surveys: Sequence[SurveyCreate], *, mask: Callable[[str], str]) -> SurveysAccepted:
    """Store new responses and replace changed ones (a customer may change a rating), in one transaction.

    The version answered last wins: a retried or late older version changes nothing (it had put back a rating
    the customer had changed since). The same response delivered again unchanged, or an older version of it, is
    a duplicate. Two first deliveries of one response racing each other keep the version answered last too, though
    both are counted as accepted; a response erased meanwhile keeps its stored scores.
    """
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for survey in surveys:  # within one delivery, the latest answer; of two at one moment the later copy
        key = (survey.source, survey.response_id)
        if key not in latest or survey.responded_at >= latest[key]["responded_at"]:
            latest[key] = survey_row(survey, mask)
    with write_lock(session):
        stored: dict[tuple[str, str], dict[str, Any]] = {}
        for source, response_ids in by_source(latest):
            for row in session.execute(
                select(
                    SurveyResponse.response_id,
                    SurveyResponse.erased_at,
                    *(getattr(SurveyResponse, name) for name in VALUES),
                ).where(SurveyResponse.source == source, col(SurveyResponse.response_id).in_(response_ids))
            ).all():
                stored[(source, row[0])] = dict(zip(VALUES, row[2:], strict=True))
                if row[1] is not None:
                    latest[(source, row[0])].update(ERASED)
        fresh = [row for key, row in latest.items() if key not in stored]
        changed = [
            row
            for key, row in latest.items()
            if key in stored
            and row["responded_at"] >= stored[key]["responded_at"]
            and any(stored[key][name] != row[name] for name in VALUES)
        ]
        if fresh:
            # A concurrent delivery of the same response may have landed since the check: the version answered
            # last wins there too, and an erasure since then stays.
            statement = upsert_insert(session, SURVEYS)
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=["source", "response_id"],
                    set_={name: statement.excluded[name] for name in (*VALUES, "received_at")},
                    where=(SURVEYS.c.responded_at <= statement.excluded.responded_at) & SURVEYS.c.erased_at.is_(None),
                ),
                fresh,
            )
        for row in changed:
            session.execute(
                update(SURVEYS)
                .where(
                    SURVEYS.c.source == row["source"],
                    SURVEYS.c.response_id == row["response_id"],
                    # A newer version committed meanwhile by a concurrent delivery stays.
                    SURVEYS.c.responded_at <= row["responded_at"],
                )
                .values({name: row[name] for name in (*VALUES, "received_at")})
            )
        session.commit()
    return SurveysAccepted(
        accepted=len(fresh), updated=len(changed), duplicates=len(surveys) - len(fresh) - len(changed)
    )


def scrub_customer(session: Session, customer_ref: str, tickets: Sequence[tuple[str, str]]) -> int:
    """For an erasure (in the caller's transaction): the customer's responses, and those on their tickets
    (``(source, external id)`` pairs), lose their comment and customer reference for good. The scores stay,
    without anything that points at a person, so that past survey KPIs do not change."""
    erased = {**ERASED, "erased_at": utcnow()}
    scrubbed = session.execute(update(SURVEYS).where(SURVEYS.c.customer_ref == customer_ref).values(erased)).rowcount
    for source, ticket_ids in by_source(tickets):
        scrubbed += session.execute(
            update(SURVEYS)
            # Not those the first update already counted.
            .where(SURVEYS.c.source == source, SURVEYS.c.ticket_id.in_(ticket_ids), SURVEYS.c.erased_at.is_(None))
            .values(erased)
        ).rowcount
    return int(scrubbed or 0)

"""Resolved cases: a solved ticket becomes one at once; history comes in by bulk import."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from assistant.cases.models import (
    CaseEvidence,
    CaseImport,
    CaseImportReport,
    CaseRead,
    ResolvedCase,
    SolveRequest,
)
from assistant.db import utcnow, write_lock
from assistant.errors import InvalidInput, NotFound, validation_details
from assistant.faq.service import batches
from assistant.files import CsvFile, json_file, json_lines, yes_or_no
from assistant.indexing.models import ChangeOp, Collection
from assistant.indexing.service import CollectionSource, EmbedFn, TextEncoder, record_change, vector_bytes
from assistant.routing.engine import TRIAGE_DEPARTMENT, ticket_text
from assistant.tickets.models import Ticket
from knowledge.pii import mask_pii

IMPORT_BATCH = 64
LanguageOf = Callable[[str], str | None]


def _stale_vectors(rows: Sequence[ResolvedCase], embed: EmbedFn) -> np.ndarray:
    return embed([row.summary for row in rows])


CASE_SOURCE = CollectionSource(
    name=Collection.cases.value,
    table=ResolvedCase,
    indexed=lambda row: True,
    vectors=_stale_vectors,
)


def read(row: ResolvedCase) -> CaseRead:
    return CaseRead.model_validate(row, from_attributes=True)


def get_case(session: Session, case_id: int) -> CaseRead:
    row = session.get(ResolvedCase, case_id)
    if row is None:
        raise NotFound(f"No resolved case with id {case_id}.", code="case_not_found")
    return read(row)


def cases_by_id(session: Session, case_ids: Sequence[int]) -> dict[int, CaseEvidence]:
    """Suggestions read up to 50 candidates per request: as plain rows of the columns they use, because
    building ORM objects cost three times the query itself (0.91 against 0.34 ms for 50 demo cases)."""
    if not case_ids:
        return {}
    rows = session.exec(
        select(
            ResolvedCase.id,
            ResolvedCase.summary,
            ResolvedCase.resolution,
            ResolvedCase.actions,
            ResolvedCase.intent,
            ResolvedCase.first_contact,
            ResolvedCase.ticket_id,
        ).where(col(ResolvedCase.id).in_(list(case_ids)))
    )
    return {
        case_id: CaseEvidence(case_id, summary, resolution, tuple(actions), intent, first_contact, ticket_id)
        for case_id, summary, resolution, actions, intent, first_contact, ticket_id in rows
        if case_id is not None
    }


def solve_ticket(
    session: Session,
    *,
    ticket_id: int,
    request: SolveRequest,
    encoder: TextEncoder,
    language_of: LanguageOf,
) -> CaseRead:
    """The ticket's resolution becomes a resolved case (replacing an earlier one for the same ticket)."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(f"No ticket with id {ticket_id}.", code="ticket_not_found")
    summary = mask_pii(ticket_text(ticket.subject, ticket.body))
    vector = encoder.passages([summary])[0]
    now = utcnow()
    try:
        return _store_solution(session, ticket, request, summary, vector, encoder, language_of, now)
    except IntegrityError:
        # The same ticket solved twice at once: the second becomes an update of the first's case. Or the ticket
        # went meanwhile (its customer erased): nothing to solve.
        session.rollback()
        if session.exec(select(Ticket.id).where(Ticket.id == ticket_id)).first() is None:
            raise NotFound(f"No ticket with id {ticket_id}.", code="ticket_not_found") from None
        return _store_solution(session, ticket, request, summary, vector, encoder, language_of, now)


def _store_solution(
    session: Session,
    ticket: Ticket,
    request: SolveRequest,
    summary: str,
    vector: Any,
    encoder: TextEncoder,
    language_of: LanguageOf,
    now: datetime,
) -> CaseRead:
    ticket_id = ticket.id
    with write_lock(session):
        row = session.exec(select(ResolvedCase).where(ResolvedCase.ticket_id == ticket_id)).first()
        if row is None:
            row = ResolvedCase(ticket_id=ticket_id, summary=summary, resolution="", created_at=now)
        row.summary = summary
        row.resolution = mask_pii(request.resolution)
        row.actions = request.actions
        # A ticket solved while still waiting for triage has no department, and its intent is the guess the model
        # abstained on: a case that carried it would lend that guess to the suggestions ranked by intent.
        untriaged = ticket.department == TRIAGE_DEPARTMENT
        row.intent, row.department = (None, None) if untriaged else (ticket.intent, ticket.department)
        row.language = ticket.language or language_of(summary)
        row.first_contact = request.first_contact
        row.customer_ref = ticket.customer_ref
        row.agent_id = request.agent_id
        row.solved_at = now
        row.embedding, row.embedding_model = vector_bytes(vector), encoder.model_name
        row.updated_at = now
        session.add(row)
        session.flush()
        assert row.id is not None
        record_change(session, Collection.cases.value, [row.id], ChangeOp.upsert)
        session.commit()
    return read(row)


def import_cases(
    session: Session,
    cases: Iterable[CaseImport],
    *,
    encoder: TextEncoder,
    language_of: LanguageOf,
    progress: Callable[[int], None] | None = None,
) -> CaseImportReport:
    """Historical resolved cases, masked and indexed; a case already imported (by ``external_id``, or without one
    the same request, resolution and customer) is updated in place."""
    created = updated = 0
    for batch in batches(cases, IMPORT_BATCH):
        summaries = [mask_pii(case.text) for case in batch]
        vectors = encoder.passages(summaries)
        now = utcnow()
        with write_lock(session):
            ids = []
            for case, summary, vector in zip(batch, summaries, vectors, strict=True):
                resolution = mask_pii(case.resolution)
                if case.external_id:
                    row = session.exec(select(ResolvedCase).where(ResolvedCase.external_id == case.external_id)).first()
                else:
                    row = _same_case(session, case, summary, resolution)
                if row is None:
                    row = ResolvedCase(external_id=case.external_id, summary=summary, resolution="", created_at=now)
                    created += 1
                else:
                    updated += 1
                row.summary = summary
                row.resolution = resolution
                row.actions = case.actions
                row.intent, row.department = case.intent, case.department
                row.language = language_of(summary)
                row.first_contact = case.first_contact
                row.customer_ref = case.customer_ref
                row.solved_at = case.solved_at or now
                row.embedding, row.embedding_model = vector_bytes(vector), encoder.model_name
                row.updated_at = now
                session.add(row)
                session.flush()
                assert row.id is not None
                ids.append(row.id)
            record_change(session, Collection.cases.value, ids, ChangeOp.upsert)
            session.commit()
        if progress is not None:
            progress(len(batch))
    return CaseImportReport(created=created, updated=updated, skipped=0)


def _same_case(session: Session, case: CaseImport, summary: str, resolution: str) -> ResolvedCase | None:
    """The imported case without an external id that is this one: the same request, resolution and customer (and
    solve time, where the file gives one). Importing a history without ids again then adds no copies, which would
    count each case's actions twice among the neighbours of every suggestion."""
    query = select(ResolvedCase).where(
        col(ResolvedCase.external_id).is_(None),
        col(ResolvedCase.ticket_id).is_(None),
        ResolvedCase.summary == summary,
        ResolvedCase.resolution == resolution,
    )
    reference = ResolvedCase.customer_ref
    query = query.where(col(reference).is_(None) if case.customer_ref is None else reference == case.customer_ref)
    if case.solved_at is not None:
        query = query.where(ResolvedCase.solved_at == case.solved_at)
    return session.exec(query.order_by(col(ResolvedCase.id))).first()


def read_cases_file(path: Path) -> list[CaseImport]:
    """Resolved cases from JSON lines (``.jsonl``), a JSON list (``.json``) or CSV.

    Fields: ``text`` (the customer's request), ``resolution``, ``actions`` (a list, or in CSV a
    ``;``-separated cell), and optionally ``intent``, ``department``, ``first_contact``,
    ``customer_ref``, ``external_id``, ``solved_at``.
    """
    if not path.is_file():
        raise InvalidInput(f"No file at {path}.", code="file_not_found")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            records = [record for _, record in json_lines(handle, path.name)]
    elif suffix == ".json":
        records = json_file(path)
    elif suffix == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            records = list(CsvFile(handle, path.name))
    else:
        raise InvalidInput(f"{path.name}: use a .jsonl, .json or .csv file.", code="unsupported_format")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise InvalidInput(f"{path.name}: expected one object per case.", code="validation_error")
    cases = []
    for number, record in enumerate(records, start=1):
        try:
            cases.append(CaseImport.model_validate(_clean_record(record)))
        except ValidationError as exc:
            raise InvalidInput(
                f"{path.name}, case {number} is not a valid resolved case.", details=validation_details(exc)
            ) from None
    return cases


def _clean_record(record: dict[str, Any]) -> dict[str, Any]:
    # A blank or missing cell is no value: the field's default applies (an empty first_contact is not an error).
    data = {k: v for k, v in record.items() if k in CaseImport.model_fields and v not in ("", None)}
    if "first_contact" in data:
        data["first_contact"] = yes_or_no(data["first_contact"])
    if data.get("actions") is None:
        data["actions"] = []
    return data

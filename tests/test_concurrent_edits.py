"""Edits that race each other, on SQLite and PostgreSQL, made repeatable: the other edit lands while the first one
waits for the embedding model, which is where a real race finds the gap (two admins, two processes)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, delete, select

from assistant.cases.models import SolveRequest
from assistant.cases.service import solve_ticket
from assistant.errors import NotFound
from assistant.events.models import EventCreate, InteractionEvent
from assistant.events.service import ingest_events
from assistant.faq.models import FaqCreate, FaqEntry, FaqRead, FaqUpdate
from assistant.faq.service import FAQ_SOURCE, create_faq, entry_vectors, update_faq
from assistant.indexing.models import ChangeOp, Collection
from assistant.indexing.service import KnowledgeIndexes, TextEncoder, record_change, vector_from_bytes
from assistant.schedules.service import ScheduleBook
from assistant.surveys import service as surveys_service
from assistant.surveys.models import SurveyCreate, SurveyResponse
from assistant.tickets.models import Ticket
from knowledge import TextEmbedder


def meanwhile(embedder: TextEmbedder, edit: Callable[[], None]) -> TextEncoder:
    """An encoder that makes ``edit`` (in a session of its own) during its first call."""
    pending = [edit]

    def encode(texts: Sequence[str]) -> np.ndarray:
        while pending:
            pending.pop()()
        return embedder.encode(texts)

    return TextEncoder(model_name=embedder.model_name, encode=encode)


def english(_: str) -> str:
    return "en"


def stored_entry(engine: Engine, entry_id: int) -> FaqEntry:
    with Session(engine) as session:
        row = session.get(FaqEntry, entry_id)
        assert row is not None
        return row


def shipping_entry(engine: Engine, encoder: TextEncoder) -> FaqRead:
    with Session(engine) as session:
        shipping = FaqCreate(question="Do you ship abroad?", answer="To the EU.")
        return create_faq(session, shipping, encoder=encoder, language_of=english)


def test_an_faq_edit_racing_another_stores_the_vector_of_the_text_it_stores(
    engine: Engine, embedder: TextEmbedder
) -> None:
    plain = TextEncoder.of(embedder)
    with Session(engine) as session:
        entry = create_faq(
            session,
            FaqCreate(question="How do I reset my password?", answer="Use the link on the sign-in page."),
            encoder=plain,
            language_of=english,
        )

    def other_admin() -> None:
        with Session(engine) as other:
            update_faq(
                other, entry.id, FaqUpdate(answer="Ask support for a reset e-mail."), encoder=plain, language_of=english
            )

    with Session(engine) as session:
        racing = meanwhile(embedder, other_admin)
        update_faq(session, entry.id, FaqUpdate(question="I forgot my password"), encoder=racing, language_of=english)
    row = stored_entry(engine, entry.id)
    assert (row.question, row.answer) == ("I forgot my password", "Ask support for a reset e-mail.")
    expected = entry_vectors([(row.question, row.answer)], plain.passages)[0]
    assert float(vector_from_bytes(row.embedding) @ expected) > 0.9999


def test_a_language_set_by_an_edit_meanwhile_outranks_the_detected_one(engine: Engine, embedder: TextEmbedder) -> None:
    plain = TextEncoder.of(embedder)
    entry = shipping_entry(engine, plain)

    def other_admin() -> None:
        with Session(engine) as other:
            update_faq(other, entry.id, FaqUpdate(language="de"), encoder=plain, language_of=english)

    with Session(engine) as session:
        racing = meanwhile(embedder, other_admin)
        update_faq(session, entry.id, FaqUpdate(question="Do you ship overseas?"), encoder=racing, language_of=english)
    row = stored_entry(engine, entry.id)
    assert (row.question, row.language) == ("Do you ship overseas?", "de")


def test_an_faq_edit_racing_its_deletion_is_not_found(engine: Engine, embedder: TextEmbedder) -> None:
    plain = TextEncoder.of(embedder)
    entry = shipping_entry(engine, plain)

    def other_admin() -> None:
        with Session(engine) as other:
            other.exec(delete(FaqEntry).where(FaqEntry.id == entry.id))  # type: ignore[call-overload]
            other.commit()

    with Session(engine) as session, pytest.raises(NotFound) as refused:
        update_faq(
            session,
            entry.id,
            FaqUpdate(answer="Worldwide."),
            encoder=meanwhile(embedder, other_admin),
            language_of=english,
        )
    assert refused.value.code == "faq_not_found"


def test_solving_a_ticket_whose_customer_is_erased_meanwhile_is_not_found(
    engine: Engine, embedder: TextEmbedder
) -> None:
    with Session(engine) as session:
        ticket = Ticket(source="zd", external_id="ZD-9", body="My blender broke", channel="email", customer_ref="c-9")
        session.add(ticket)
        session.commit()
        ticket_id = ticket.id
    assert ticket_id is not None

    def erase() -> None:
        with Session(engine) as other:
            other.exec(delete(Ticket).where(Ticket.id == ticket_id))  # type: ignore[call-overload]
            other.commit()

    with Session(engine) as session, pytest.raises(NotFound) as refused:
        solve_ticket(
            session,
            ticket_id=ticket_id,
            request=SolveRequest(resolution="Sent a new one."),
            encoder=meanwhile(embedder, erase),
            language_of=english,
        )
    assert refused.value.code == "ticket_not_found"


@pytest.mark.parametrize("commits", ["while the index is built", "after the index is built"])
def test_an_index_built_beside_an_open_transaction_applies_it_when_it_commits(
    engine: Engine, embedder: TextEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, commits: str
) -> None:
    """PostgreSQL hands out the change's id before the commit: a process that builds its index while an older
    change is still open, and a newer one is committed, must not take the newer id as covering the older."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite admits one writer at a time: no change id is handed out before an older one commits")
    plain = TextEncoder.of(embedder)
    with Session(engine) as session:
        first = create_faq(
            session, FaqCreate(question="Do you ship abroad?", answer="To the EU."), encoder=plain, language_of=english
        )
    slow = Session(engine)  # an admin's unpublish, its transaction still open
    row = slow.get(FaqEntry, first.id)
    assert row is not None
    row.published = False
    slow.add(row)
    record_change(slow, Collection.faq.value, [first.id], ChangeOp.upsert)
    slow.flush()
    with Session(engine) as session:
        create_faq(
            session,
            FaqCreate(question="How long do refunds take?", answer="Five days."),
            encoder=plain,
            language_of=english,
        )
    if commits == "while the index is built":
        rebuild = KnowledgeIndexes._rebuild

        def rebuild_then_commit(self: KnowledgeIndexes, *args: Any, **kwargs: Any) -> Any:
            index = rebuild(self, *args, **kwargs)  # read while the unpublish was open
            if slow.in_transaction():
                slow.commit()
            return index

        monkeypatch.setattr(KnowledgeIndexes, "_rebuild", rebuild_then_commit)
    indexes = KnowledgeIndexes(
        engine,
        sources=[FAQ_SOURCE],
        directory=tmp_path / "indexes",
        model_name=embedder.model_name,
        dimension=embedder.dimension,
        embed=plain.passages,
    ).open()
    if slow.in_transaction():
        assert indexes.size("faq") == 2  # built from what was committed
        slow.commit()
    slow.close()
    indexes.sync()
    assert indexes.size("faq") == 1 and first.id not in indexes.documents("faq")


def test_an_event_stored_by_a_concurrent_delivery_is_not_counted_as_accepted_twice(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite admits one writer at a time: no other delivery can land between the check and the insert")
    at = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    reply = EventCreate(
        source="helpdesk", event_id="e-2", ticket_id="T-1", kind="agent_reply", occurred_at=at, text="On its way."
    )
    created = EventCreate(source="helpdesk", event_id="e-1", ticket_id="T-1", kind="ticket_created", occurred_at=at)
    pending = [reply]

    def mask_while_another_delivery_lands(text: str) -> str:
        # Called after the "already stored?" check, before the insert: the same reply arrives through another process.
        while pending:
            with Session(engine) as other:
                ingest_events(other, [pending.pop()], schedules=ScheduleBook(engine), mask=str)
        return text

    with Session(engine) as session:
        answer = ingest_events(
            session, [created, reply], schedules=ScheduleBook(engine), mask=mask_while_another_delivery_lands
        )
    assert (answer.accepted, answer.duplicates, answer.tickets) == (1, 1, 1)
    with Session(engine) as session:
        assert len(session.exec(select(InteractionEvent)).all()) == 2


@pytest.mark.parametrize("landing_first", ["an older version", "a newer version"])
def test_two_first_deliveries_of_a_survey_response_keep_the_version_answered_last(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, landing_first: str
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite admits one writer at a time: no other delivery can land between the check and the insert")
    at = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
    mine = SurveyCreate(source="helpdesk", response_id="r-1", csat=5, responded_at=at)
    other_at = at - timedelta(minutes=5) if landing_first == "an older version" else at + timedelta(minutes=5)
    other = SurveyCreate(source="helpdesk", response_id="r-1", csat=1, responded_at=other_at)
    real_upsert = surveys_service.upsert_insert
    pending = [other]

    def upsert_after_another_delivery_lands(session: Session, table: Any) -> Any:
        # After the "already stored?" check, before the insert: the same response arrives through another process.
        while pending:
            with Session(engine) as elsewhere:
                surveys_service.ingest_surveys(elsewhere, [pending.pop()], mask=str)
        return real_upsert(session, table)

    monkeypatch.setattr(surveys_service, "upsert_insert", upsert_after_another_delivery_lands)
    with Session(engine) as session:
        surveys_service.ingest_surveys(session, [mine], mask=str)
    with Session(engine) as session:
        stored = session.exec(select(SurveyResponse)).one()
    expected = (5, at) if landing_first == "an older version" else (1, other_at)
    assert (stored.csat, stored.responded_at) == expected

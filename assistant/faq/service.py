"""FAQ entries: create, change, delete and import them, each change reaching the search index at once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from assistant.db import utcnow, write_lock
from assistant.errors import Conflict, InvalidInput, NotFound, validation_details
from assistant.faq.models import FaqCreate, FaqEntry, FaqHit, FaqImportReport, FaqRead, FaqUpdate
from assistant.files import CsvFile, json_file, yes_or_no
from assistant.indexing.models import ChangeOp, Collection
from assistant.indexing.service import CollectionSource, EmbedFn, TextEncoder, record_change, vector_bytes
from knowledge.vector_index import Hit

# An entry is found by a blend of its question's vector and its question-with-answer's: the question
# says what is asked, the answer adds the words a customer may use instead. Measured on StackFAQ
# (bench/faq_retrieval.py): question alone 0.946 recall@1, question+answer alone 0.902, the blend 0.964.
QUESTION_WEIGHT = 0.7
EXCERPT_CHARS = 300
IMPORT_BATCH = 64
# An edit whose text another edit keeps changing under it gives up after this many tries (409, send it again).
UPDATE_ATTEMPTS = 3

LanguageOf = Callable[[str], str | None]


def entry_texts(question: str, answer: str) -> tuple[str, str]:
    return question, f"{question}\n{answer}"


def entry_vectors(entries: Sequence[tuple[str, str]], embed: EmbedFn) -> np.ndarray:
    """One vector per (question, answer): the normalised blend of the two views."""
    if not entries:
        return np.zeros((0, 0), dtype=np.float32)
    texts = [text for question, answer in entries for text in entry_texts(question, answer)]
    vectors = embed(texts)
    questions, with_answers = vectors[0::2], vectors[1::2]
    blend = QUESTION_WEIGHT * questions + (1.0 - QUESTION_WEIGHT) * with_answers
    return (blend / np.linalg.norm(blend, axis=1, keepdims=True)).astype(np.float32)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + " …"


@dataclass(frozen=True, slots=True)
class FaqDocument:
    """What the portal shows of a published entry, held in memory so a search never waits on the database."""

    id: int
    question: str
    answer: str
    language: str | None
    tags: tuple[str, ...]
    # Cut once when the entry is indexed, not on every search that finds it.
    answer_excerpt: str

    def hit(self, score: float, *, in_query_language: bool | None = None) -> FaqHit:
        return FaqHit(
            id=self.id,
            score=round(score, 4),
            question=self.question,
            answer=self.answer,
            answer_excerpt=self.answer_excerpt,
            language=self.language,
            tags=list(self.tags),
            in_query_language=in_query_language,
        )


def _document(row: FaqEntry) -> FaqDocument:
    assert row.id is not None
    return FaqDocument(row.id, row.question, row.answer, row.language, tuple(row.tags), excerpt(row.answer))


def _stale_vectors(rows: Sequence[FaqEntry], embed: EmbedFn) -> np.ndarray:
    return entry_vectors([(row.question, row.answer) for row in rows], embed)


# Only published entries are indexed: an unpublished one cannot reach the portal by any path.
FAQ_SOURCE = CollectionSource(
    name=Collection.faq.value,
    table=FaqEntry,
    indexed=lambda row: bool(row.published),
    vectors=_stale_vectors,
    document=_document,
)


def read(row: FaqEntry) -> FaqRead:
    return FaqRead.model_validate(row, from_attributes=True)


def get_faq(session: Session, faq_id: int) -> FaqRead:
    return read(_get(session, faq_id))


def _get(session: Session, faq_id: int) -> FaqEntry:
    row = session.get(FaqEntry, faq_id)
    if row is None:
        raise NotFound(f"No FAQ entry with id {faq_id}.", code="faq_not_found")
    return row


def list_faq(
    session: Session, *, offset: int = 0, limit: int = 50, published: bool | None = None, text: str | None = None
) -> tuple[list[FaqRead], int]:
    if text is not None and "\x00" in text:
        raise InvalidInput("text may not contain NUL characters.", code="validation_error")
    query = select(FaqEntry)
    if published is not None:
        query = query.where(FaqEntry.published == published)
    if text:
        # autoescape: a "%" or "_" the user typed is a character to find, not a wildcard matching everything.
        wanted = text.lower()
        query = query.where(
            func.lower(FaqEntry.question).contains(wanted, autoescape=True)
            | func.lower(FaqEntry.answer).contains(wanted, autoescape=True)
        )
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(FaqEntry.id)).offset(offset).limit(limit)).all()
    return [read(row) for row in rows], int(total)


def create_faq(session: Session, data: FaqCreate, *, encoder: TextEncoder, language_of: LanguageOf) -> FaqRead:
    if data.external_id is not None and _by_external_id(session, data.external_id) is not None:
        raise Conflict(
            f"An FAQ entry with external_id {data.external_id!r} exists; update it instead.", code="faq_exists"
        )
    vector = entry_vectors([(data.question, data.answer)], encoder.passages)[0]
    session.rollback()  # no connection held while the model worked
    now = utcnow()
    row = FaqEntry(
        **data.model_dump(exclude={"language"}),
        language=data.language or language_of(data.question + "\n" + data.answer),
        embedding=vector_bytes(vector),
        embedding_model=encoder.model_name,
        created_at=now,
        updated_at=now,
    )
    try:
        with write_lock(session):
            session.add(row)
            session.flush()
            assert row.id is not None
            record_change(session, Collection.faq.value, [row.id], ChangeOp.upsert)
            session.commit()
    except IntegrityError:
        session.rollback()  # the same external_id, created by a concurrent request
        raise Conflict(
            f"An FAQ entry with external_id {data.external_id!r} exists; update it instead.", code="faq_exists"
        ) from None
    return read(row)


def update_faq(
    session: Session, faq_id: int, patch: FaqUpdate, *, encoder: TextEncoder, language_of: LanguageOf
) -> FaqRead:
    """Apply the patch to the entry as it is when written. The vector is made outside the write lock (the model
    takes milliseconds) from the text read first; if another edit changed that text meanwhile, it is made again
    from the new text, so the stored vector always matches the stored question and answer."""
    changes = patch.model_dump(exclude_unset=True, exclude_none=True)
    for _ in range(UPDATE_ATTEMPTS):
        row = _get(session, faq_id)
        seen, seen_language = (row.question, row.answer), row.language
        text = (changes.get("question", row.question), changes.get("answer", row.answer))
        vector = vector_bytes(entry_vectors([text], encoder.passages)[0]) if text != seen else None
        detect = vector is not None and "language" not in changes
        language = language_of(text[0] + "\n" + text[1]) if detect else None
        with write_lock(session):
            current = session.exec(
                select(FaqEntry)
                .where(FaqEntry.id == faq_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).first()
            if current is None:
                session.rollback()
                raise NotFound(f"No FAQ entry with id {faq_id}.", code="faq_not_found")
            if (current.question, current.answer) != seen:
                session.rollback()
                continue
            for name, value in changes.items():
                setattr(current, name, value)
            if vector is not None:
                current.embedding, current.embedding_model = vector, encoder.model_name
            # A language set by another edit meanwhile is an admin's word; detection is only a guess.
            if detect and current.language == seen_language:
                current.language = language
            current.updated_at = utcnow()
            session.add(current)
            record_change(session, Collection.faq.value, [faq_id], ChangeOp.upsert)
            session.commit()
        return read(current)
    raise Conflict(
        f"FAQ entry {faq_id} kept changing while this edit was made; send it again.", code="faq_edit_conflict"
    )


def delete_faq(session: Session, faq_id: int) -> None:
    row = _get(session, faq_id)
    with write_lock(session):
        session.delete(row)
        record_change(session, Collection.faq.value, [faq_id], ChangeOp.delete)
        session.commit()


def _by_external_id(session: Session, external_id: str) -> FaqEntry | None:
    return session.exec(select(FaqEntry).where(FaqEntry.external_id == external_id)).first()


def _same_question(session: Session, entry: FaqCreate) -> FaqEntry | None:
    """The entry without an external id that asks the same question (in the same language, where one is given):
    importing a file without ids again updates its entries instead of adding a copy of each to the portal."""
    query = select(FaqEntry).where(col(FaqEntry.external_id).is_(None), FaqEntry.question == entry.question)
    if entry.language:
        query = query.where(FaqEntry.language == entry.language)
    return session.exec(query.order_by(col(FaqEntry.id))).first()


def import_faq(
    session: Session,
    entries: Iterable[FaqCreate],
    *,
    encoder: TextEncoder,
    language_of: LanguageOf,
    progress: Callable[[int], None] | None = None,
) -> FaqImportReport:
    """Create or update entries in batches, each batch one transaction: an entry is the stored one with its
    ``external_id``, or without one, the stored entry without one that asks the same question."""
    created = updated = skipped = 0
    for batch in batches(entries, IMPORT_BATCH):
        vectors = entry_vectors([(e.question, e.answer) for e in batch], encoder.passages)
        now = utcnow()
        with write_lock(session):
            ids = []
            for entry, vector in zip(batch, vectors, strict=True):
                row = (
                    _by_external_id(session, entry.external_id) if entry.external_id else _same_question(session, entry)
                )
                if row is not None and (row.question, row.answer, row.tags, row.published) == (
                    entry.question,
                    entry.answer,
                    entry.tags,
                    entry.published,
                ):
                    skipped += 1
                    continue
                if row is None:
                    row = FaqEntry(
                        external_id=entry.external_id, question=entry.question, answer=entry.answer, created_at=now
                    )
                    created += 1
                else:
                    updated += 1
                row.question, row.answer = entry.question, entry.answer
                row.tags, row.published = entry.tags, entry.published
                row.language = entry.language or language_of(entry.question + "\n" + entry.answer)
                row.embedding, row.embedding_model = vector_bytes(vector), encoder.model_name
                row.updated_at = now
                session.add(row)
                session.flush()
                assert row.id is not None
                ids.append(row.id)
            record_change(session, Collection.faq.value, ids, ChangeOp.upsert)
            session.commit()
        if progress is not None:
            progress(len(batch))
    return FaqImportReport(created=created, updated=updated, skipped=skipped)


def batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# ---- reading import files ----------------------------------------------------------------------


def read_faq_file(path: Path) -> list[FaqCreate]:
    """FAQ entries from JSON or CSV.

    JSON: a list (or ``{"entries": [...]}``) of objects with ``question`` and ``answer`` — or, as
    StackFAQ ships them, ``answers`` (a list, joined as one answer) and ``id`` (kept as external_id).
    CSV: columns ``question``, ``answer`` and optionally ``language``, ``tags`` (``;``-separated),
    ``published`` (true/false), ``external_id``.
    """
    if not path.is_file():
        raise InvalidInput(f"No file at {path}.", code="file_not_found")
    suffix = path.suffix.lower()
    if suffix == ".json":
        records = _json_records(path)
    elif suffix == ".csv":
        records = _csv_records(path)
    else:
        raise InvalidInput(f"{path.name}: use a .json or .csv file.", code="unsupported_format")
    entries = []
    for number, record in enumerate(records, start=1):
        try:
            entries.append(faq_from_record(record))
        except ValidationError as exc:
            raise InvalidInput(
                f"{path.name}, entry {number} is not a valid FAQ entry.", details=validation_details(exc)
            ) from None
    return entries


def faq_from_record(record: dict[str, Any]) -> FaqCreate:
    data = dict(record)
    if "answer" not in data and isinstance(data.get("answers"), list):
        data["answer"] = "\n\n".join(str(a).strip() for a in data["answers"] if str(a).strip())
    if "external_id" not in data and data.get("id") is not None:
        data["external_id"] = str(data["id"])
    if isinstance(data.get("tags"), str):
        data["tags"] = [t for t in data["tags"].split(";") if t.strip()]
    if "published" in data:
        data["published"] = yes_or_no(data["published"])
    for empty in ("language", "external_id"):
        if data.get(empty) == "":
            data[empty] = None
    allowed = set(FaqCreate.model_fields)
    return FaqCreate.model_validate({k: v for k, v in data.items() if k in allowed})


def _json_records(path: Path) -> list[dict[str, Any]]:
    data = json_file(path)
    if isinstance(data, dict) and isinstance(data.get("entries"), list):
        data = data["entries"]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise InvalidInput(f"{path.name}: expected a list of FAQ objects.", code="validation_error")
    return data


def _csv_records(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        table = CsvFile(handle, path.name)
        if missing := {"question", "answer"} - set(table.header):
            raise InvalidInput(f"{path.name} lacks the column(s) {', '.join(sorted(missing))}.", code="missing_column")
        return list(table)


# An entry in the customer's own language outranks one in another language that matches only this much
# better: a desk that keeps an answer in German and in English shows a German customer the German one.
SAME_LANGUAGE_BONUS = 0.05


def portal_hits(
    documents: Callable[[int], FaqDocument | None], hits: Sequence[Hit], k: int, *, language: str | None = None
) -> list[FaqHit]:
    """The ``k`` best of the index's hits that are still published; with the query's language, an entry in
    that language first where it fits about as well. Only the ``k`` shown are built."""
    found = [(document, hit.score) for hit in hits if (document := documents(hit.id)) is not None]
    if language is None:
        return [document.hit(score) for document, score in found[:k]]

    def same_language(document: FaqDocument) -> bool | None:
        return document.language == language if document.language else None

    found.sort(key=lambda pair: -(pair[1] + (SAME_LANGUAGE_BONUS if same_language(pair[0]) else 0.0)))
    return [document.hit(score, in_query_language=same_language(document)) for document, score in found[:k]]

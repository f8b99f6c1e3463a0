"""Vector indexes derived from the database and kept current in every process.

The database is the system of record. Each indexed row keeps its own vector, and every change to an
indexed row appends to ``index_changes`` in the same transaction; the change's id is the revision.
A process applies the changes after the revision its index holds, so a FAQ entry saved through one
process is found through every other, and an index loaded from disk (or missing) is brought up to
date on start without re-embedding anything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, update
from sqlmodel import Session, SQLModel, col, select

from assistant.db import session_scope, write_lock
from assistant.indexing.models import ChangeOp, IndexChange
from knowledge.embedder import TextEmbedder
from knowledge.vector_index import Hit, IndexMismatchError, VectorIndex

log = logging.getLogger("assistant")

EmbedFn = Callable[[Sequence[str]], np.ndarray]
# A change id missing from the log may belong to a transaction still running (PostgreSQL hands out ids
# before commit); it is looked for again until it appears or this long has passed (a rollback).
GAP_PATIENCE_SECONDS = 60.0
SYNC_BATCH = 2_000
# How far below the newest change a rebuild looks for ids of transactions still open: they hold ids handed out
# moments before, and every id missing there (a rolled-back one, too) is only waited for GAP_PATIENCE_SECONDS.
UNCOMMITTED_WINDOW = 2_000


def vector_bytes(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def vector_from_bytes(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype="<f4")


def record_change(session: Session, collection: str, item_ids: Iterable[int], op: ChangeOp) -> None:
    """Log changed rows in the caller's transaction: the index follows only what was committed."""
    for item_id in item_ids:
        session.add(IndexChange(collection=collection, item_id=item_id, op=op.value))


@dataclass(frozen=True)
class TextEncoder:
    """The model's name with its encode function: every stored vector records which model made it.

    ``encode`` embeds queries (tickets, searches); ``passages`` embeds stored documents (FAQ entries, cases),
    which an asymmetric model (E5) embeds differently.
    """

    model_name: str
    encode: EmbedFn
    passage_marker: str = ""

    @classmethod
    def of(cls, embedder: TextEmbedder) -> TextEncoder:
        """Encoding in this process, with the embedder itself (the CLI; the service goes through its batcher)."""
        return cls(model_name=embedder.model_name, encode=embedder.encode, passage_marker=embedder.passage_marker)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode([self.passage_marker + text for text in texts])


@dataclass(frozen=True)
class CollectionSource:
    """How one table feeds one index."""

    name: str
    table: type[SQLModel]
    # Whether a row belongs in the index at all (an unpublished FAQ entry does not).
    indexed: Callable[[Any], bool]
    # Vectors for rows whose stored vector is missing or was made by another model.
    vectors: Callable[[Sequence[Any], EmbedFn], np.ndarray]
    # Kept in memory per indexed row, for answers that must not touch the database (the portal's search).
    document: Callable[[Any], Any] | None = None


@dataclass
class _Collection:
    source: CollectionSource
    index: VectorIndex
    documents: dict[int, Any] = field(default_factory=dict)


class KnowledgeIndexes:
    def __init__(
        self,
        engine: Engine,
        *,
        sources: Sequence[CollectionSource],
        directory: Path,
        model_name: str,
        dimension: int,
        embed: EmbedFn,
        approximate_threshold: int = 50_000,
    ) -> None:
        self.engine = engine
        self.sources = {source.name: source for source in sources}
        self.directory = directory
        self.model_name = model_name
        self.dimension = dimension
        self.embed = embed
        self.approximate_threshold = approximate_threshold
        self._collections: dict[str, _Collection] = {}
        self._revision = 0  # every change up to here (except waiting gaps) is applied
        self._gaps: dict[int, float] = {}
        self._lock = threading.RLock()
        self._dirty = False
        self._reembedded = 0

    # -- lifecycle -------------------------------------------------------------------------------

    def open(self) -> KnowledgeIndexes:
        """Load each saved index that matches this model, rebuild the others, then catch up."""
        with self._lock:
            database_revision = self._database_revision()
            # Before reading any row: a change committed while a rebuild reads may have been read before it.
            self._await_uncommitted(database_revision)
            revisions = []
            for source in self.sources.values():
                index = self._load(source, database_revision)
                if index is None:
                    index = self._rebuild(source, database_revision)
                    self._dirty = True
                collection = _Collection(source, index)
                self._collections[source.name] = collection
                revisions.append(index.revision)
            self._revision = min(revisions, default=database_revision)
            for collection in self._collections.values():
                if collection.source.document is not None:
                    self._load_documents(collection)
            self.sync()
        return self

    def save(self, *, force: bool = False) -> None:
        with self._lock:
            if not (self._dirty or force):
                return
            for name, collection in self._collections.items():
                collection.index.revision = self.safe_revision
                collection.index.save(self.directory / name)
            self._dirty = False

    @property
    def revision(self) -> int:
        return self._revision

    def size(self, name: str) -> int:
        return len(self._collections[name].index)

    def index_type(self, name: str) -> str:
        return self._collections[name].index.index_type

    # -- reading ---------------------------------------------------------------------------------

    def search(self, name: str, vectors: np.ndarray, k: int, *, min_score: float | None = None) -> list[list[Hit]]:
        return self._collections[name].index.search(vectors, k, min_score=min_score)

    def document(self, name: str, item_id: int) -> Any:
        return self._collections[name].documents.get(item_id)

    def documents(self, name: str) -> Mapping[int, Any]:
        """The in-memory documents of a collection that keeps them (read-only view)."""
        return MappingProxyType(self._collections[name].documents)

    # -- following the change log ----------------------------------------------------------------

    def sync_after_write(self) -> None:
        """After a request committed a change: apply it now if possible. The write is already durable, so
        a failure here must not fail the request; the follower thread applies it within a second."""
        try:
            self.sync()
        except Exception:
            log.exception("could not apply a change to the indexes at once; the follower will")

    def sync(self) -> int:
        """Apply every committed change after our revision; returns how many were applied."""
        with self._lock:
            applied = 0
            if self._gaps:
                # Ids handed out before ours that were not committed yet when we passed them.
                with session_scope(self.engine) as session:
                    late = session.exec(select(IndexChange).where(col(IndexChange.id).in_(list(self._gaps)))).all()
                if late:
                    self._apply(late)
                    applied += len(late)
                    for change in late:
                        self._gaps.pop(change.id or 0, None)
            while True:
                with session_scope(self.engine) as session:
                    changes = session.exec(
                        select(IndexChange)
                        .where(col(IndexChange.id) > self._revision)
                        .order_by(col(IndexChange.id))
                        .limit(SYNC_BATCH)
                    ).all()
                if changes:
                    self._apply(changes)
                    applied += len(changes)
                self._advance([c.id for c in changes if c.id is not None])
                if len(changes) < SYNC_BATCH:
                    return applied

    @property
    def safe_revision(self) -> int:
        """Every change up to here is applied: what a saved index may claim, gaps still open included."""
        return min(self._gaps, default=self._revision + 1) - 1

    def _advance(self, seen: list[int]) -> None:
        now = time.monotonic()
        for change_id in seen:
            self._gaps.pop(change_id, None)
        top = max(seen, default=self._revision)
        if top > self._revision:
            self._wait_for_missing(self._revision, top, set(seen), now)
            self._revision = top
        for change_id, noticed in list(self._gaps.items()):
            if now - noticed > GAP_PATIENCE_SECONDS:
                del self._gaps[change_id]

    def _apply(self, changes: Sequence[IndexChange]) -> None:
        by_collection: dict[str, set[int]] = {}
        for change in changes:
            by_collection.setdefault(change.collection, set()).add(change.item_id)
        for name, item_ids in by_collection.items():
            collection = self._collections.get(name)
            if collection is None:
                continue
            # The row's present state decides, whatever the change said: replaying a change is harmless.
            table = collection.source.table
            with session_scope(self.engine) as session:
                rows = session.exec(select(table).where(col(table.id).in_(item_ids))).all()  # type: ignore[attr-defined]
            present = {row.id: row for row in rows if collection.source.indexed(row)}
            gone = [item_id for item_id in item_ids if item_id not in present]
            if gone:
                collection.index.remove(gone)
                for item_id in gone:
                    collection.documents.pop(item_id, None)
            if present:
                self._add_rows(collection, list(present.values()))
            self._dirty = True

    def _add_rows(self, collection: _Collection, rows: list[Any]) -> None:
        ids, vectors, stale = [], [], []
        for row in rows:
            if row.embedding is not None and row.embedding_model == self.model_name:
                vector = vector_from_bytes(row.embedding)
                if vector.shape[0] == self.dimension:
                    ids.append(row.id)
                    vectors.append(vector)
                    continue
            stale.append(row)
        if stale:
            fresh = collection.source.vectors(stale, self.embed)
            ids += [row.id for row in stale]
            vectors += list(fresh)
            self._store_vectors(collection.source, stale, fresh)
        if ids:
            collection.index.add(np.asarray(ids, dtype=np.int64), np.vstack(vectors).astype(np.float32))
        if collection.source.document is not None:
            for row in rows:
                collection.documents[row.id] = collection.source.document(row)

    def _store_vectors(self, source: CollectionSource, rows: Sequence[Any], vectors: np.ndarray) -> None:
        """Vectors made by this model replace those of another in the rows themselves: after a switch of
        model, the next start (and every other process) finds them ready instead of embedding again."""
        table = source.table.__table__  # type: ignore[attr-defined]
        with session_scope(self.engine) as session, write_lock(session):
            for row, vector in zip(rows, vectors, strict=True):
                session.execute(
                    update(table)
                    .where(table.c.id == row.id)
                    .values(embedding=vector_bytes(vector), embedding_model=self.model_name)
                )
            session.commit()
        self._reembedded += len(rows)
        log.info(
            "re-embedded %d %s rows with %s (%d so far)", len(rows), source.name, self.model_name, self._reembedded
        )

    # -- building --------------------------------------------------------------------------------

    def _database_revision(self) -> int:
        with session_scope(self.engine) as session:
            return int(session.exec(select(func.coalesce(func.max(IndexChange.id), 0))).one())

    def _await_uncommitted(self, revision: int) -> None:
        """PostgreSQL hands out a change's id before its transaction commits: an id at or below ``revision`` that
        is not visible yet belongs to a transaction still open, whose rows a rebuild read as they were before it.
        Such ids are waited for as gaps, like those ``sync`` passes (an index built beside a running writer had
        kept an entry unpublished meanwhile in its portal search for good)."""
        low = max(0, revision - UNCOMMITTED_WINDOW)
        with session_scope(self.engine) as session:
            present = set(
                session.exec(
                    select(IndexChange.id).where(col(IndexChange.id) > low, col(IndexChange.id) <= revision)
                ).all()
            )
        self._wait_for_missing(low, revision, present, time.monotonic())

    def _wait_for_missing(self, after: int, upto: int, present: set[int], now: float) -> None:
        """The change ids in (after, upto] not among ``present`` are waited for as gaps."""
        for missing in range(after + 1, upto + 1):
            if missing not in present:
                self._gaps.setdefault(missing, now)

    def _new_index(self) -> VectorIndex:
        return VectorIndex(self.dimension, self.model_name, approximate_threshold=self.approximate_threshold)

    def _load(self, source: CollectionSource, database_revision: int) -> VectorIndex | None:
        path = self.directory / source.name
        try:
            index = VectorIndex.load(path, model_name=self.model_name, dimension=self.dimension)
        except FileNotFoundError:
            return None
        except (IndexMismatchError, ValueError, OSError) as exc:
            log.warning("rebuilding the %s index from the database: %s", source.name, exc)
            return None
        if index.revision > database_revision:
            # Saved against a database that has since been replaced or restored from an older backup.
            log.warning(
                "rebuilding the %s index: saved at revision %s, database at %s",
                source.name,
                index.revision,
                database_revision,
            )
            return None
        return index

    def _rebuild(self, source: CollectionSource, database_revision: int) -> VectorIndex:
        started = time.monotonic()
        index = self._new_index()
        index.revision = database_revision
        collection = _Collection(source, index)
        table = source.table
        last_id = 0
        while True:
            with session_scope(self.engine) as session:
                rows = session.exec(
                    select(table).where(col(table.id) > last_id).order_by(col(table.id)).limit(SYNC_BATCH)  # type: ignore[attr-defined]
                ).all()
            if not rows:
                break
            last_id = rows[-1].id
            self._add_rows(collection, [row for row in rows if source.indexed(row)])
        log.info(
            "built the %s index from the database: %d items in %.1f s",
            source.name,
            len(index),
            time.monotonic() - started,
        )
        return index

    def _load_documents(self, collection: _Collection) -> None:
        source, table = collection.source, collection.source.table
        assert source.document is not None
        collection.documents.clear()
        with session_scope(self.engine) as session:
            for row in session.exec(select(table)).all():
                if source.indexed(row):
                    collection.documents[row.id] = source.document(row)


class IndexFollower:
    """A thread that keeps a process's indexes current and saves them now and then."""

    def __init__(self, indexes: KnowledgeIndexes, *, interval_seconds: float = 1.0, save_seconds: float = 60.0):
        self.indexes = indexes
        self.interval = interval_seconds
        self.save_every = save_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> IndexFollower:
        self._thread = threading.Thread(target=self._run, name="index-follower", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self.indexes.save()

    def _run(self) -> None:
        saved_at = time.monotonic()
        while not self._stop.wait(self.interval):
            try:
                self.indexes.sync()
                if time.monotonic() - saved_at > self.save_every:
                    self.indexes.save()
                    saved_at = time.monotonic()
            except Exception:
                log.exception("could not bring the knowledge indexes up to date; retrying")

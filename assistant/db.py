"""Database engine, sessions and schema migrations (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, Self, TypeVar

from sqlalchemy import DateTime, Engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, create_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Held while migrating so that several processes starting on one PostgreSQL database migrate once.
_MIGRATION_LOCK_ID = 0x5A551570
# Row ids are INTEGER columns: 32-bit on PostgreSQL. A larger id in a request is refused (400) before it reaches
# the database, which would fail the query ("integer out of range").
MAX_ROW_ID = 2**31 - 1


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always returns time-zone aware datetimes (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: a failed statement's message would otherwise carry ticket text into the logs.
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_size=10, max_overflow=30, pool_pre_ping=True, hide_parameters=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; NORMAL sync is durable across process crashes in WAL mode.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


_sqlite_write_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def write_lock(session: Session) -> threading.Lock | nullcontext[None]:
    """Hold while writing: SQLite admits one writer at a time, and threads that find it busy poll with
    sleeps of up to 100 ms; queueing them on a lock in the process hands the database over at once.
    PostgreSQL needs no such lock."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return nullcontext()
    key = str(bind.engine.url)
    with _locks_guard:
        return _sqlite_write_locks.setdefault(key, threading.Lock())


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


Item = TypeVar("Item")
Result = TypeVar("Result")
_STOP = object()
log = logging.getLogger("assistant")


class BatchWriter(Generic[Item, Result]):
    """One thread that commits what it is handed; items that arrive together share one transaction.

    A thread per write meant many threads taking turns at the GIL and queueing for SQLite's one writer,
    each holding the write lock while it waited for the GIL again; one writer that stages a batch and
    commits once does the same work with none of that hand-over.

    ``stage_batch`` adds a batch to the session, uncommitted, and returns each item's result; the writer
    commits. If the batch fails, each item is written in a transaction of its own, so that a failure
    reaches only its own item's future: by ``write_alone`` (which commits) where given, else as a batch of
    one."""

    def __init__(
        self,
        engine: Engine,
        *,
        name: str,
        stage_batch: Callable[[Session, list[Item]], list[Result]],
        write_alone: Callable[[Session, Item], Result] | None = None,
        max_batch: int = 64,
    ) -> None:
        self.engine = engine
        self.name = name
        self.max_batch = max_batch
        self._stage_batch = stage_batch
        self._write_alone = write_alone
        self._queue: queue.SimpleQueue[tuple[Item, Future[Result]] | threading.Event | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.transactions = 0

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Commits what was handed over before, then ends the thread."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    def submit(self, item: Item) -> Future[Result]:
        """Future of the item's result, resolved once committed."""
        future: Future[Result] = Future()
        if self._thread is None:
            future.set_exception(RuntimeError(f"{self.name} is not running"))
        else:
            self._queue.put((item, future))
        return future

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything handed over before this call is committed (or has failed); False on timeout.
        For readers that must see this process's own writes."""
        if self._thread is None:
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def _run(self) -> None:
        while True:
            batch: list[tuple[Item, Future[Result]]] = []
            flushed: list[threading.Event] = []
            stop = False
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stop = True
                elif isinstance(item, threading.Event):
                    flushed.append(item)
                else:
                    batch.append(item)  # type: ignore[arg-type]
                if stop or len(batch) >= self.max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._write(batch)
            for done in flushed:
                done.set()
            if stop:
                return

    def _commit(self, items: list[Item]) -> list[Result]:
        with Session(self.engine, expire_on_commit=False) as session, write_lock(session):
            results = self._stage_batch(session, items)
            session.commit()
        return results

    def _write(self, batch: list[tuple[Item, Future[Result]]]) -> None:
        # An item whose owner has given up waiting (a request timed out) is not written: its owner has answered
        # that it was not. Once running, a future can no longer be cancelled, so setting its result cannot fail.
        batch = [(item, future) for item, future in batch if future.set_running_or_notify_cancel()]
        if not batch:
            return
        try:
            results = self._commit([item for item, _ in batch])
        except Exception:
            log.debug("%s: a batch of %d failed; writing each alone", self.name, len(batch), exc_info=True)
            for item, future in batch:
                self._write_one(item, future)
            return
        self.transactions += 1
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)

    def _write_one(self, item: Item, future: Future[Result]) -> None:
        try:
            if self._write_alone is None:
                result = self._commit([item])[0]
            else:
                with Session(self.engine, expire_on_commit=False) as session:
                    result = self._write_alone(session, item)
        except BaseException as exc:  # the item's owner gets the failure; the writer lives on
            future.set_exception(exc)
            return
        self.transactions += 1
        future.set_result(result)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def ping(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False

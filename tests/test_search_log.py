"""The portal's search log: searches are committed off the request path, those that arrive together in one
transaction, and ``flush`` lets a reader (an erasure, a deflection report) see every search handed over."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, col, func, select

from assistant.db import write_lock
from assistant.insights.deflection import PortalSearchRecord, SearchLog
from assistant.insights.models import PortalSearchLog


@contextmanager
def writes_held(engine: Engine) -> Iterator[None]:
    """No one else writes the search log until the block ends."""
    with Session(engine) as session:
        if engine.dialect.name == "sqlite":
            with write_lock(session):
                yield
        else:
            session.execute(text("LOCK TABLE portal_searches IN EXCLUSIVE MODE"))
            yield
            session.rollback()


def logged(engine: Engine, customer_ref: str) -> list[PortalSearchLog]:
    with Session(engine) as session:
        query = select(PortalSearchLog).where(col(PortalSearchLog.customer_ref) == customer_ref)
        return list(session.exec(query.order_by(col(PortalSearchLog.id))).all())


def test_searches_handed_over_together_share_a_commit_and_flush_waits_for_them(engine: Engine) -> None:
    search_log = SearchLog(engine).start()
    try:
        with writes_held(engine):
            for n in range(5):
                search_log.record(PortalSearchRecord(f"refund {n} to jane.doe@example.com", "cust-batch", n, 0.5, None))
            assert not search_log.flush(timeout=0.3)  # still waiting for the database
            assert logged(engine, "cust-batch") == []
        assert search_log.flush()
        rows = logged(engine, "cust-batch")
        # The writer may have taken the first search before the rest arrived: at most two commits.
        assert search_log.transactions <= 2
        assert [row.results for row in rows] == [0, 1, 2, 3, 4]
        assert all("jane.doe@example.com" not in row.query and "[EMAIL]" in row.query for row in rows)
        assert all(row.searched_day and row.searched_week for row in rows)
    finally:
        search_log.stop()


def test_a_search_that_cannot_be_stored_is_logged_and_fails_alone(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    search_log = SearchLog(engine).start()
    unreadable = None  # no text to mask or store
    with caplog.at_level(logging.ERROR, logger="assistant"):
        try:
            with writes_held(engine):
                search_log.record(PortalSearchRecord("good one", "cust-alone", 1, 0.4, None))
                search_log.record(PortalSearchRecord(unreadable, "cust-alone", 1, None, None))  # type: ignore[arg-type]
                search_log.record(PortalSearchRecord("good two", "cust-alone", 2, 0.6, None))
            assert search_log.flush()
        finally:
            search_log.stop()
    assert [row.query for row in logged(engine, "cust-alone")] == ["good one", "good two"]
    assert "could not log a portal search" in caplog.text


def test_stop_commits_what_was_handed_over(engine: Engine) -> None:
    search_log = SearchLog(engine).start()
    moment = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)
    for n in range(3):
        search_log.record(PortalSearchRecord("where is my parcel", "cust-stop", n, None, None, moment))
    search_log.stop()
    assert [row.searched_at for row in logged(engine, "cust-stop")] == [moment] * 3
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(PortalSearchLog)).one() == 3
    search_log.record(PortalSearchRecord("after the end", "cust-stop", 0, None, None))  # refused, logged, no raise

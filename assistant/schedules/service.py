"""Business-hour schedules: stored per department, managed through the API or a config file."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from assistant.db import session_scope, utcnow, write_lock
from assistant.errors import InvalidInput, NotFound
from assistant.schedules.hours import DEFAULT_SCHEDULE, BusinessSchedule
from assistant.schedules.models import DEFAULT_DEPARTMENT, BusinessHours, ScheduleRead

REFRESH_SECONDS = 10.0


class ScheduleBook:
    """Each department's schedule (else the ``*`` schedule, else Mon–Fri 09–17 UTC), cached briefly."""

    def __init__(self, engine: Engine, *, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.engine = engine
        self.refresh_seconds = refresh_seconds
        self._schedules: dict[str, BusinessSchedule] = {}
        self._loaded_at = -float("inf")
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        self._loaded_at = -float("inf")

    def get(self, department: str | None) -> BusinessSchedule:
        schedules = self._current()
        return schedules.get(department or "") or schedules.get(DEFAULT_DEPARTMENT) or DEFAULT_SCHEDULE

    def _current(self) -> dict[str, BusinessSchedule]:
        if time.monotonic() - self._loaded_at > self.refresh_seconds:
            with self._lock:
                if time.monotonic() - self._loaded_at > self.refresh_seconds:
                    with session_scope(self.engine) as session:
                        rows = session.exec(select(BusinessHours)).all()
                    loaded = {row.department: BusinessSchedule.from_dict(row.schedule) for row in rows}
                    # An unchanged schedule stays the same object, keeping the whole months it has worked out.
                    kept = self._schedules
                    self._schedules = {
                        name: kept[name] if kept.get(name) == schedule else schedule
                        for name, schedule in loaded.items()
                    }
                    self._loaded_at = time.monotonic()
        return self._schedules


def parse_schedule(data: Any) -> BusinessSchedule:
    if not isinstance(data, dict):
        raise InvalidInput("A schedule is an object with timezone, hours and holidays.", code="invalid_schedule")
    try:
        return BusinessSchedule.from_dict(data)
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidInput(f"The schedule is not valid: {exc}", code="invalid_schedule") from None


def read(department: str, schedule: BusinessSchedule) -> ScheduleRead:
    return ScheduleRead(department=department, **schedule.to_dict())


def list_schedules(session: Session) -> list[ScheduleRead]:
    rows = session.exec(select(BusinessHours).order_by(col(BusinessHours.department))).all()
    listed = [read(row.department, BusinessSchedule.from_dict(row.schedule)) for row in rows]
    if not any(row.department == DEFAULT_DEPARTMENT for row in rows):
        listed.insert(0, read(DEFAULT_DEPARTMENT, DEFAULT_SCHEDULE))
    return listed


def put_schedule(session: Session, department: str, data: Any) -> ScheduleRead:
    schedule = parse_schedule(data)
    with write_lock(session):
        row = session.exec(select(BusinessHours).where(BusinessHours.department == department)).first()
        row = row or BusinessHours(department=department, schedule={})
        row.schedule = schedule.to_dict()
        row.updated_at = utcnow()
        session.add(row)
        session.commit()
    return read(department, schedule)


def delete_schedule(session: Session, department: str) -> None:
    row = session.exec(select(BusinessHours).where(BusinessHours.department == department)).first()
    if row is None:
        raise NotFound(f"Department {department!r} has no schedule of its own.", code="schedule_not_found")
    with write_lock(session):
        session.delete(row)
        session.commit()


def load_schedules_file(session: Session, path: Path) -> list[str]:
    """``{"departments": {"*": {...}, "billing_payments": {...}}}``; returns the departments set."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))  # a BOM, as Windows editors write one
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read business hours from {path}: {exc}") from exc
    departments = data.get("departments") if isinstance(data, dict) else None
    if not isinstance(departments, dict):
        raise ValueError(f'{path}: expected {{"departments": {{name: schedule}}}}')
    for department, schedule in departments.items():
        try:
            put_schedule(session, str(department), schedule)
        except InvalidInput as exc:
            raise ValueError(f"{path}, department {department!r}: {exc.message}") from exc
    return [str(d) for d in departments]

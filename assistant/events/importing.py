"""Reading records (interaction events, survey responses) from files for bulk imports, a batch at a time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from assistant.errors import InvalidInput, validation_details
from assistant.events.models import EventCreate
from assistant.files import CsvFile, json_lines

Record = TypeVar("Record", bound=BaseModel)


def read_events(path: Path, *, batch: int = 5_000) -> Iterator[list[EventCreate]]:
    """Events from JSON lines (``.jsonl``) or CSV, validated, in batches; a bad line stops with its number."""
    return read_records(path, EventCreate, noun="event", batch=batch)


def read_records(path: Path, model: type[Record], *, noun: str, batch: int = 5_000) -> Iterator[list[Record]]:
    """Records from JSON lines (``.jsonl``) or CSV, validated by ``model``, in batches."""
    if not path.is_file():
        raise InvalidInput(f"No file at {path}.", code="file_not_found")
    suffix = path.suffix.lower()
    if suffix not in {".jsonl", ".csv"}:
        raise InvalidInput(f"{path.name}: use a .jsonl or .csv file.", code="unsupported_format")
    chunk: list[Record] = []
    for number, record in enumerate(_records(path, suffix), start=1):
        try:
            chunk.append(model.model_validate(record))
        except ValidationError as exc:
            raise InvalidInput(f"{path.name}, {noun} {number} is not valid.", details=validation_details(exc)) from None
        if len(chunk) == batch:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _records(path: Path, suffix: str) -> Iterator[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        if suffix == ".csv":
            for row in CsvFile(handle, path.name):
                yield {key: value for key, value in row.items() if value not in ("", None)}
            return
        for number, record in json_lines(handle, path.name):
            if not isinstance(record, dict):
                raise InvalidInput(f"{path.name}, line {number} is not a JSON object.", code="validation_error")
            yield record

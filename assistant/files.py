"""Reading the CSV and JSON files of bulk imports and training: a file read wrong must not lend its rows to others
(a quote left open takes every later line into one cell), and every way a file can be unreadable is one
``InvalidInput`` naming the file and the line, not a traceback."""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from assistant.errors import InvalidInput

NOT_UTF8 = 'is not UTF-8 text; save it as UTF-8 (a spreadsheet\'s "CSV UTF-8")'


class CsvFile:
    """A CSV file opened with ``newline=""``: its header, read at once, and its rows as ``csv.DictReader`` gives them
    (a missing cell is None). Refuses a quote left open, a column named twice and a row with text beyond the header;
    columns without a name, and empty cells past the last column (spreadsheets export both), are left out."""

    def __init__(self, handle: IO[str], name: str) -> None:
        self.name = name
        self._reader = csv.DictReader(handle, strict=True)
        with self._readable():
            self.header = [column for column in self._reader.fieldnames or () if column.strip()]
        if twice := sorted({column for column in self.header if self.header.count(column) > 1}):
            raise InvalidInput(f"{name}: the column(s) {', '.join(twice)} appear twice.", code="malformed_file")

    def __iter__(self) -> Iterator[dict[str, Any]]:
        with self._readable():
            for row in self._reader:
                beyond = row.pop(None, None) or []  # type: ignore[call-overload]
                if any(cell.strip() for cell in beyond):
                    raise InvalidInput(
                        f"{self.name}, line {self._reader.line_num}: more cells than the header has columns.",
                        code="malformed_file",
                    )
                yield {column: value for column, value in row.items() if column.strip()}

    @contextlib.contextmanager
    def _readable(self) -> Iterator[None]:
        try:
            yield
        except csv.Error as exc:
            # The reader counts the lines of the rows it finished: the bad one starts on the next.
            line = self._reader.line_num + 1
            raise InvalidInput(
                f"{self.name}, the row starting at line {line}: not valid CSV ({exc}).", code="malformed_file"
            ) from None
        except UnicodeDecodeError:
            raise InvalidInput(f"{self.name} {NOT_UTF8}.", code="malformed_file") from None


def json_value(text: str, name: str, *, line: int | None = None) -> Any:
    """``json.loads``, its failures (nesting too deep for the parser included) as one ``InvalidInput``."""
    where = f"{name}, line {line}" if line is not None else name
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"{where} is not valid JSON: {exc}", code="malformed_json") from None
    except RecursionError:
        raise InvalidInput(f"{where} is nested too deeply to read.", code="malformed_json") from None


def json_file(path: Path) -> Any:
    """A JSON file's value (a byte-order mark, as Windows editors write one, allowed)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path.name} {NOT_UTF8}.", code="malformed_file") from None
    return json_value(text, path.name)


def json_lines(handle: IO[str], name: str) -> Iterator[tuple[int, Any]]:
    """Each non-blank line's JSON value, with its line number, from a JSON-lines file opened as text."""
    try:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, json_value(line, name, line=number)
    except UnicodeDecodeError:
        raise InvalidInput(f"{name} {NOT_UTF8}.", code="malformed_file") from None


TRUE_WORDS = frozenset({"true", "1", "yes", "y"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", ""})


def yes_or_no(value: Any) -> Any:
    """A yes/no cell of a file (CSV holds only text) as a bool; anything else is left to validation, which refuses
    it: "maybe" must not be read as either."""
    if isinstance(value, str) and (word := value.strip().lower()) in TRUE_WORDS | FALSE_WORDS:
        return word in TRUE_WORDS
    return value

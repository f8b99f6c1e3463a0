"""Reading the CSV and JSON files of bulk imports and training: a file read wrong must not lend its rows to others
(a quote left open takes every later line into one cell), and every way a file can be unreadable is one
``InvalidInput`` naming the file and the line, not a traceback."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import IO, Any

from assistant.errors import InvalidInput

NOT_UTF8 = 'is not UTF-8 text; save it as UTF-8 (a spreadsheet\'s "CSV UTF-8")'


def csv_rows(handle: IO[str], name: str) -> Iterator[dict[str, Any]]:
    """The rows of a CSV file opened with ``newline=""``, as ``csv.DictReader`` gives them (a missing cell is
    None), refusing a quote left open, a column named twice and a row with more cells than the header."""
    reader = csv.DictReader(handle, strict=True)
    try:
        header = list(reader.fieldnames or ())
        if twice := sorted({column for column in header if header.count(column) > 1}):
            raise InvalidInput(f"{name}: the column(s) {', '.join(twice)} appear twice.", code="malformed_file")
        for row in reader:
            if None in row:
                raise InvalidInput(
                    f"{name}, line {reader.line_num}: more cells than the header has columns.", code="malformed_file"
                )
            yield row
    except csv.Error as exc:
        raise InvalidInput(f"{name}, line {reader.line_num}: not valid CSV ({exc}).", code="malformed_file") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{name} {NOT_UTF8}.", code="malformed_file") from None


def json_value(text: str, name: str, *, line: int | None = None) -> Any:
    """``json.loads``, its failures (nesting too deep for the parser included) as one ``InvalidInput``."""
    where = f"{name}, line {line}" if line is not None else name
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"{where} is not valid JSON: {exc}", code="malformed_json") from None
    except RecursionError:
        raise InvalidInput(f"{where} is nested too deeply to read.", code="malformed_json") from None


TRUE_WORDS = frozenset({"true", "1", "yes", "y"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", ""})


def yes_or_no(value: Any) -> Any:
    """A yes/no cell of a file (CSV holds only text) as a bool; anything else is left to validation, which refuses
    it: "maybe" must not be read as either."""
    if isinstance(value, str) and (word := value.strip().lower()) in TRUE_WORDS | FALSE_WORDS:
        return word in TRUE_WORDS
    return value

"""Rows of an export file (JSON, JSON Lines or CSV), each with its position, for the row-per-request sources."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from ingest.calls import Call, Rejected
from ingest.mapping import Mapping
from ingest.readers import delimiter_hint

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class RowError(ValueError):
    """A row field that cannot be read; the message names the field."""


def json_field(row: dict[str, Any], name: str) -> Any:
    """A field that may hold JSON text (CSV exports, a PostgreSQL json column read as text), parsed."""
    value = row.get(name)
    if isinstance(value, str) and value.strip().startswith(("{", "[")):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            raise RowError(f"{name}: not valid JSON") from None
    return value


def time_ns(row: dict[str, Any], name: str, required: bool = True) -> int | None:
    """A time field in ns since the epoch: ISO 8601 (no offset: UTC), a datetime, or epoch seconds."""
    value = row.get(name)
    if value in (None, ""):
        if required:
            raise RowError(f"{name}: required")
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return int(value * 1e9)  # StandardLoggingPayload: epoch seconds
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:  # its words name a part out of range: "hour must be in 0..23"
            why = "" if str(exc).startswith("Invalid isoformat") else f" ({exc})"
            raise RowError(f"{name}: {value!r} is not a time{why}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def number(value: Any, name: str) -> float | None:
    """An amount (USD, ms, s) >= 0; None when missing or empty. RowError names ``name`` otherwise."""
    if value in (None, ""):
        return None
    try:
        found = float(value)
    except (TypeError, ValueError):
        raise RowError(f"{name}: {value!r} is not a number") from None
    if not found >= 0:
        raise RowError(f"{name}: {value!r} is negative")
    return found


def whole(row: dict[str, Any], name: str) -> int:
    """A count field (tokens, retries): a whole number >= 0; missing or empty is 0."""
    value = row.get(name)
    if value in (None, ""):
        return 0
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RowError(f"{name}: {value!r} is not a number") from None
    if number < 0 or number != int(number):
        raise RowError(f"{name}: {value!r} is not a whole number >= 0")
    return int(number)


def read_row_calls(
    path: Path, mapping: Mapping, opener: Any, convert: Callable[[dict[str, Any], Mapping, int, str], list[Call]]
) -> Iterator[list[Call] | Rejected]:
    """The calls ``convert`` makes of every row of ``path`` (one list per request), or Rejected with its row and
    field: the reader of every row-per-request source."""
    for position, row, error, raw in rows(path, opener):
        if row is None:
            yield Rejected(position, f"row {position}: {error}", raw)
            continue
        try:
            yield convert(row, mapping, position, f"row {position}")
        except (RowError, TypeError, ValueError, OverflowError) as exc:
            yield Rejected(position, f"row {position}: {exc}", raw or orjson.dumps(row, default=str).decode())


def lookup(row: dict[str, Any], path: str, **objects: Any) -> Any:
    """The value at a dotted ``path`` in ``row``; a first part named in ``objects`` starts from that object."""
    head, _, rest = path.partition(".")
    value: Any = objects[head] if head in objects else row.get(head)
    for part in rest.split(".") if rest else ():
        value = value.get(part) if isinstance(value, dict) else None
    return value


def mapped(mapping: Mapping, find: Callable[[str], Any]) -> tuple[dict[str, str], dict[str, str]]:
    """The context fields (user, session, language, ...) and segments a mapping finds through ``find(path)``.

    A field takes the first non-empty value of its paths; ``segments`` paths name objects whose scalar keys
    (other than the ones the fields take by name) become segments.
    """
    context: dict[str, str] = {}
    for name, paths in mapping.items():
        if name == "segments":
            continue
        value = next((v for p in paths if (v := find(p)) not in (None, "")), None)
        if value is not None:
            context[name] = str(value)
    taken = {p.rsplit(".", 1)[-1] for name, paths in mapping.items() if name != "segments" for p in paths}
    segments: dict[str, str] = {}
    for path in mapping.get("segments", ()):
        found = find(path)
        if isinstance(found, dict):
            segments.update(
                {k: str(v) for k, v in found.items() if k not in taken and isinstance(v, str | int | float | bool)}
            )
    return context, segments


def rows(path: Path, opener: Any) -> Iterator[tuple[int, dict[str, Any] | None, str, str]]:
    """(position, row or None, error, raw) for every row of a JSON, JSON Lines or CSV export."""
    with opener(path) as handle:
        head = handle.read(1)
        while head.isspace():
            head = handle.read(1)
        if head not in ("{", "["):
            yield from _csv_rows(head + handle.read(0), handle)
            return
        first = head + handle.readline()
        try:
            document = orjson.loads(first)
            lines = True
        except orjson.JSONDecodeError:
            lines = False
        if not lines or isinstance(document, list):  # one JSON document: an object or an array of rows
            text = first + handle.read()
            try:
                document = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                yield 1, None, f"not valid JSON: {exc}", text[:2000]
                return
            items = document if isinstance(document, list) else [document]
            for number, item in enumerate(items, start=1):
                yield number, item if isinstance(item, dict) else None, "row: not an object", ""
            return
        yield 1, document if isinstance(document, dict) else None, "line: not an object", first
        for number, line in enumerate(handle, start=2):
            if not line.strip():
                continue
            try:
                item = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield number, None, f"not valid JSON: {exc}", line
                continue
            yield number, item if isinstance(item, dict) else None, "line: not an object", line


def _csv_rows(first: str, handle: Any) -> Iterator[tuple[int, dict[str, Any] | None, str, str]]:
    reader = csv.reader(_Prepend(first, handle))
    header = [h.strip() for h in next(reader, [])]
    hint = delimiter_hint(header, ())
    start = reader.line_num + 1
    for row in reader:
        number, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        raw = io.StringIO()
        csv.writer(raw, lineterminator="").writerow(row)
        if hint:
            yield number, None, hint, raw.getvalue()
        elif len(row) != len(header):
            yield number, None, f"row has {len(row)} fields, the header has {len(header)}", raw.getvalue()
        else:
            yield number, dict(zip(header, row, strict=True)), "", raw.getvalue()


class _Prepend:
    """A text handle with a few characters read ahead put back in front (csv.reader iterates lines)."""

    def __init__(self, first: str, handle: Any) -> None:
        self._first, self._handle = first, handle

    def __iter__(self) -> Iterator[str]:
        first_line = self._first + self._handle.readline()
        yield first_line
        yield from self._handle

"""LiteLLM spend logs (``LiteLLM_SpendLogs`` rows, or ``StandardLoggingPayload`` objects), as requests.

One row is one request through the LiteLLM proxy. Fields, as LiteLLM's schema.prisma names them:

- ``request_id`` (``id`` in a StandardLoggingPayload) -> ``request_id``; ``startTime`` -> ``ts`` (LiteLLM writes
  no time zone: UTC); ``endTime`` - ``startTime`` -> ``latency_ms``; ``completionStartTime`` - ``startTime`` ->
  ``ttft_ms``;
- ``end_user`` -> ``user_id`` (not ``user``: that is the API key's owner); no end user -> ``unknown``;
- ``model`` -> ``model``, its tier in routes.toml -> ``final_route``; ``prompt_tokens``/``completion_tokens`` ->
  tokens; ``spend`` (``response_cost``) -> ``cost_usd``;
- ``status`` ``failure`` -> ``status`` error, with ``metadata.error_information.error_code`` as ``error_type``;
- ``metadata`` (JSON text in the table): ``attempted_retries`` -> ``retries``; ``attempted_fallbacks`` > 0 with an
  ``original_model_group`` -> a failed first call on that group (its tier is ``route``), so the request escalated
  when the served tier is stronger; ``spend_logs_metadata`` -> segments (language, channel, tier, task type and
  region by name, every other key as ``segments.<key>``), per ingest/mapping.py.

Files: JSON (one row, or an array of rows), JSON Lines, CSV (``metadata`` and ``request_tags`` as JSON text).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ingest.calls import Call, Rejected, reason_for
from ingest.mapping import Mapping

_ROW_KEYS = (b'"startTime"', b'"call_type"')
_COST_KEYS = ("spend", "response_cost")


class RowError(ValueError):
    """A row field that cannot be read; the message names the field."""


def _json_field(row: dict[str, Any], name: str) -> Any:
    value = row.get(name)
    if isinstance(value, str) and value.strip().startswith(("{", "[")):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            raise RowError(f"{name}: not valid JSON") from None
    return value


def _time_ns(row: dict[str, Any], name: str, required: bool = True) -> int | None:
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
        except ValueError:
            raise RowError(f"{name}: {value!r} is not a time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000) * 1000


def _whole(row: dict[str, Any], name: str) -> int:
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


def _lookup(row: dict[str, Any], metadata: dict[str, Any], path: str) -> Any:
    head, _, rest = path.partition(".")
    value: Any = metadata if head == "metadata" else row.get(head)
    for part in rest.split(".") if rest else ():
        value = value.get(part) if isinstance(value, dict) else None
    return value


def row_calls(row: dict[str, Any], mapping: Mapping, position: int, where: str) -> list[Call]:
    """The calls of one spend-log row: the served call, after a failed one on the original group if it fell back."""
    metadata = _json_field(row, "metadata") or {}
    if not isinstance(metadata, dict):
        raise RowError("metadata: expected a JSON object")
    key = row.get("request_id") or row.get("id")
    if not key:
        raise RowError("request_id: required")
    start = _time_ns(row, "startTime")
    end = _time_ns(row, "endTime", required=False) or start
    assert start is not None and end is not None
    if end < start:
        raise RowError("endTime: before startTime")
    first_token = _time_ns(row, "completionStartTime", required=False)
    cost_value = next((row[k] for k in _COST_KEYS if row.get(k) not in (None, "")), None)
    try:
        cost = None if cost_value is None else float(cost_value)
    except (TypeError, ValueError):
        raise RowError(f"spend: {cost_value!r} is not a number") from None
    if cost is not None and not cost >= 0:
        raise RowError(f"spend: {cost_value!r} is negative")
    context: dict[str, str] = {}
    for name, paths in mapping.items():
        if name == "segments":
            continue
        value = next((v for p in paths if (v := _lookup(row, metadata, p)) not in (None, "")), None)
        if value is not None:
            context[name] = str(value)
    segments: dict[str, str] = {}
    taken = {p.rsplit(".", 1)[-1] for name, paths in mapping.items() if name != "segments" for p in paths}
    for path in mapping.get("segments", ()):
        found = _lookup(row, metadata, path)
        if isinstance(found, dict):
            segments.update(
                {k: str(v) for k, v in found.items() if k not in taken and isinstance(v, str | int | float | bool)}
            )
    error = metadata.get("error_information") or {}
    failed = str(row.get("status") or "success").lower() not in ("success", "ok")
    error_type = str((error.get("error_code") or error.get("error_class") or "error") if failed else "")
    served = Call(
        key=str(key),
        position=position,
        where=where,
        start_ns=start,
        end_ns=end,
        model=str(row.get("model") or row.get("model_group") or ""),
        input_tokens=_whole(row, "prompt_tokens"),
        output_tokens=_whole(row, "completion_tokens"),
        cost_usd=cost,
        ttft_ms=None if first_token is None else max(0, first_token - start) / 1e6,
        status="error" if failed else "ok",
        error_type=error_type,
        retries=_whole(metadata, "attempted_retries"),
        context=context,
        segments=segments,
    )
    original = metadata.get("original_model_group")
    if _whole(metadata, "attempted_fallbacks") and original and original != row.get("model_group"):
        fallen = Call(key=str(key), position=position, where=where, start_ns=start, end_ns=start, model=str(original))
        fallen.status, fallen.error_type, fallen.cost_usd = "error", "fallback", 0.0
        fallen.escalation_reason = reason_for("error", str(error.get("error_code") or ""))
        return [fallen, served]
    return [served]


def _rows(path: Path, opener: Any) -> Iterator[tuple[int, dict[str, Any] | None, str, str]]:
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
    start = reader.line_num + 1
    for row in reader:
        number, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        raw = io.StringIO()
        csv.writer(raw, lineterminator="").writerow(row)
        if len(row) != len(header):
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


def read_calls(path: Path, mapping: Mapping, opener: Any) -> Iterator[list[Call] | Rejected]:
    """The calls of every row of ``path`` (one list per request), or Rejected with its row and field."""
    for position, row, error, raw in _rows(path, opener):
        if row is None:
            yield Rejected(position, f"row {position}: {error}", raw)
            continue
        try:
            yield row_calls(row, mapping, position, f"row {position}")
        except (RowError, TypeError, ValueError, OverflowError) as exc:
            yield Rejected(position, f"row {position}: {exc}", raw or orjson.dumps(row, default=str).decode())


def looks_like(head: bytes) -> bool:
    """True when a file's first bytes are LiteLLM spend-log rows (JSON or CSV)."""
    window = head[:65_536]
    return all(key in window or key.strip(b'"') in window.split(b"\n", 1)[0] for key in _ROW_KEYS) and any(
        cost.encode() in window for cost in _COST_KEYS
    )

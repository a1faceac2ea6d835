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

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.calls import Call, Rejected, reason_for
from ingest.mapping import Mapping
from ingest.rows import RowError, json_field, lookup, mapped, number, read_row_calls, time_ns, whole

_ROW_KEYS = (b'"startTime"', b'"call_type"')
_COST_KEYS = ("spend", "response_cost")


def row_calls(row: dict[str, Any], mapping: Mapping, position: int, where: str) -> list[Call]:
    """The calls of one spend-log row: the served call, after a failed one on the original group if it fell back."""
    metadata = json_field(row, "metadata") or {}
    if not isinstance(metadata, dict):
        raise RowError("metadata: expected a JSON object")
    key = row.get("request_id") or row.get("id")
    if not key:
        raise RowError("request_id: required")
    start = time_ns(row, "startTime")
    end = time_ns(row, "endTime", required=False) or start
    assert start is not None and end is not None
    if end < start:
        raise RowError("endTime: before startTime")
    first_token = time_ns(row, "completionStartTime", required=False)
    cost = number(next((row[k] for k in _COST_KEYS if row.get(k) not in (None, "")), None), "spend")
    context, segments = mapped(mapping, lambda path: lookup(row, path, metadata=metadata))
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
        input_tokens=whole(row, "prompt_tokens"),
        output_tokens=whole(row, "completion_tokens"),
        cost_usd=cost,
        ttft_ms=None if first_token is None else max(0, first_token - start) / 1e6,
        status="error" if failed else "ok",
        error_type=error_type,
        retries=whole(metadata, "attempted_retries"),
        context=context,
        segments=segments,
    )
    original = metadata.get("original_model_group")
    if whole(metadata, "attempted_fallbacks") and original and original != row.get("model_group"):
        fallen = Call(key=str(key), position=position, where=where, start_ns=start, end_ns=start, model=str(original))
        fallen.status, fallen.error_type, fallen.cost_usd = "error", "fallback", 0.0
        fallen.escalation_reason = reason_for("error", str(error.get("error_code") or ""))
        return [fallen, served]
    return [served]


def read_calls(path: Path, mapping: Mapping, opener: Any) -> Iterator[list[Call] | Rejected]:
    """The calls of every row of ``path`` (one list per request), or Rejected with its row and field."""
    return read_row_calls(path, mapping, opener, row_calls)


def looks_like(head: bytes) -> bool:
    """True when a file's first bytes are LiteLLM spend-log rows (JSON or CSV)."""
    window = head[:65_536]
    return all(key in window or key.strip(b'"') in window.split(b"\n", 1)[0] for key in _ROW_KEYS) and any(
        cost.encode() in window for cost in _COST_KEYS
    )

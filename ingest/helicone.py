"""Helicone request exports (JSON, JSON Lines, CSV) and ``request_response_rmt`` rows, as requests.

One row is one request through Helicone's proxy. Fields, as Helicone's export (``@helicone/export``, the rows of
``/v1/request/query-clickhouse``) names them:

- ``request_id`` (else ``response_id``) -> ``request_id``; ``request_created_at`` -> ``ts``; ``latency`` (ms) ->
  ``latency_ms``; ``time_to_first_token`` (ms) -> ``ttft_ms``;
- ``request_user_id`` -> ``user_id`` (none -> ``unknown``); ``request_properties`` (JSON) -> session
  (``Helicone-Session-Id``), language, channel, tier, task type and region by name, every other property as
  ``segments.<name>``, per ingest/mapping.py;
- ``model``, its tier in routes.toml -> ``route``; ``prompt_tokens``/``completion_tokens`` -> tokens; ``cost``
  (USD) -> ``cost_usd`` (none: tokens x price);
- ``response_status`` other than 2xx -> ``status`` error with ``error_type`` ``http_<status>``.

``request_response_rmt`` keeps cost as USD x 1e9 and other column names; the ClickHouse table source renames
and scales them in the engine into these fields (sql/queries/helicone_rmt_page.sql).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.calls import Call, Rejected
from ingest.mapping import Mapping
from ingest.rows import RowError, json_field, lookup, mapped, number, read_row_calls, time_ns, whole

_KEYS = (b"request_created_at", b"response_status")


def row_calls(row: dict[str, Any], mapping: Mapping, position: int, where: str) -> list[Call]:
    """The one call of a Helicone request row; raises RowError naming the bad field."""
    key = row.get("request_id") or row.get("response_id")
    if not key:
        raise RowError("request_id: required")
    properties = json_field(row, "request_properties") or {}
    if not isinstance(properties, dict):
        raise RowError("request_properties: expected a JSON object")
    start = time_ns(row, "request_created_at")
    assert start is not None
    latency_ms = number(row.get("latency"), "latency") or 0.0
    context, segments = mapped(mapping, lambda path: lookup(row, path, request_properties=properties))
    cost_usd = number(row.get("cost"), "cost")
    status = whole(row, "response_status")
    failed = status and not 200 <= status < 300
    return [
        Call(
            key=str(key),
            position=position,
            where=where,
            start_ns=start,
            end_ns=start + int(latency_ms * 1e6),
            model=str(row.get("model") or ""),
            input_tokens=whole(row, "prompt_tokens"),
            output_tokens=whole(row, "completion_tokens"),
            cost_usd=cost_usd,
            ttft_ms=number(row.get("time_to_first_token"), "time_to_first_token"),
            status="error" if failed else "ok",
            error_type=f"http_{status}" if failed else "",
            context=context,
            segments=segments,
        )
    ]


def read_calls(path: Path, mapping: Mapping, opener: Any) -> Iterator[list[Call] | Rejected]:
    """The call of every row of ``path``, or Rejected with its row and field."""
    return read_row_calls(path, mapping, opener, row_calls)


def looks_like(head: bytes) -> bool:
    """True when a file's first bytes are Helicone request rows (JSON or CSV)."""
    return all(key in head[:65_536] for key in _KEYS)

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
- ``response_status`` other than 2xx -> ``status`` error with ``error_type`` ``http_<status>``;
- ``scores`` (an object of score name to number or boolean, JSON text in CSV; Helicone's
  ``POST /v1/request/{id}/score``) -> the request's feedback: ``helicone-score-feedback`` (Helicone's thumbs,
  1 up, 0 down) -> ``thumb`` +1 / -1; ``csat`` or ``satisfaction`` (a whole 1..5) -> ``csat``; ``resolved``,
  ``resolution`` or ``task_resolved`` (above 0: true) -> ``resolved``. Which names mean what is set by
  ``[sources.helicone]`` ``thumb``, ``csat``, ``resolved`` in routewatch.toml; other scores (evaluators') are not
  feedback and are skipped. Later scores come with a later export of the row: the request is updated.

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
    feedback = score_feedback(row, mapping)
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
            feedback=feedback,
        )
    ]


FEEDBACK_KINDS = ("thumb", "csat", "resolved")


def score_feedback(row: dict[str, Any], mapping: Mapping) -> dict[str, Any]:
    """The request's thumb, csat and resolved from a row's ``scores``; raises RowError naming a bad score."""
    scores = json_field(row, "scores") or {}
    if not isinstance(scores, dict):
        raise RowError("scores: expected a JSON object of score name to value")
    kinds = {name.lower(): kind for kind in FEEDBACK_KINDS for name in mapping.get(kind, ())}
    found: dict[str, Any] = {}
    for name, value in scores.items():
        kind = kinds.get(str(name).lower())
        if kind is None or value is None or kind in found:
            continue
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int | float):
            raise RowError(f"scores.{name}: {value!r} is not a number")
        if kind == "thumb":
            found[kind] = 1 if value > 0 else -1
        elif kind == "resolved":
            found[kind] = value > 0
        elif value in range(1, 6):
            found[kind] = int(value)
        else:
            raise RowError(f"scores.{name}: {value!r} is not a CSAT, a whole number from 1 to 5")
    return found


def read_calls(path: Path, mapping: Mapping, opener: Any) -> Iterator[list[Call] | Rejected]:
    """The call of every row of ``path``, or Rejected with its row and field."""
    return read_row_calls(path, mapping, opener, row_calls)


def looks_like(head: bytes) -> bool:
    """True when a file's first bytes are Helicone request rows (JSON or CSV)."""
    return all(key in head[:65_536] for key in _KEYS)

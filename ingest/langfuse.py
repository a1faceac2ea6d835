"""Langfuse exports: traces and observations as requests, scores as feedback events.

Observations and traces are the objects of Langfuse's public API (``GET /api/public/observations``,
``/traces``) and of its exports: a JSON array, an API page (``{"data": [...]}``), JSON Lines or CSV. A
``GENERATION`` observation is a call; the calls of one ``traceId`` form one request (ingest/calls.py). A trace
object (or one with its ``observations`` nested, as ``GET /api/public/traces/{id}`` returns it) lends its
``userId``, ``sessionId`` and ``metadata``. Per call: ``model``, ``startTime``/``endTime`` (latency),
``completionStartTime`` (time to first token), tokens from ``usageDetails`` (``input``/``output``) or ``usage``
(``input``/``output``, or the older ``promptTokens``/``completionTokens``), cost from ``costDetails.total`` or
``calculatedTotalCost`` (USD), errors from ``level`` ``ERROR`` with ``statusMessage``. Other observation types
(spans, events) are not calls and are skipped.

Scores (``GET /api/public/scores``) become feedback events on the request of their ``traceId``; which score names
mean a thumb, a CSAT or resolved is configurable (``[sources.langfuse]`` ``thumb``, ``csat``, ``resolved`` in
routewatch.toml), with defaults for the common names. A thumb is +1 for a value above 0 and -1 otherwise (a
boolean score 1/0 or a -1/+1 rating). Scores with other names are not feedback and are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from ingest.calls import Call, Item, Rejected
from ingest.mapping import Mapping
from ingest.rows import RowError, json_field, lookup, mapped, number, rows, time_ns, whole

FEEDBACK_KINDS = ("thumb", "csat", "resolved")


def _tokens(item: dict[str, Any], side: str, legacy: str) -> int:
    for holder in ("usageDetails", "usage"):
        found = json_field(item, holder)
        if isinstance(found, dict) and found.get(side) not in (None, ""):
            return whole(found, side)
    return whole(item, legacy)


def _cost(item: dict[str, Any]) -> float | None:
    details = json_field(item, "costDetails")
    value = details.get("total") if isinstance(details, dict) else None
    value = item.get("calculatedTotalCost") if value in (None, "") else value
    return number(value, "calculatedTotalCost")


def _context(item: dict[str, Any], mapping: Mapping) -> tuple[dict[str, str], dict[str, str]]:
    metadata = json_field(item, "metadata")
    fields = {name: paths for name, paths in mapping.items() if name not in FEEDBACK_KINDS}
    return mapped(fields, lambda path: lookup(item, path, metadata=metadata if isinstance(metadata, dict) else {}))


def item_calls(item: dict[str, Any], mapping: Mapping, position: int, where: str) -> list[Call]:
    """The calls an exported object stands for: a generation, or a trace (context) with its nested generations."""
    if item.get("type") is None:  # a trace
        key = item.get("id")
        if not key:
            raise RowError("id: required")
        context, segments = _context(item, mapping)
        calls = [Call(key=str(key), position=position, where=where, is_call=False, context=context, segments=segments)]
        for nested in item.get("observations") or []:
            if isinstance(nested, dict):
                calls.extend(item_calls({"traceId": key, **nested}, mapping, position, where))
        return calls
    if str(item["type"]).upper() != "GENERATION":
        return []
    key = item.get("traceId")
    if not key:
        raise RowError("traceId: required")
    start = time_ns(item, "startTime")
    assert start is not None
    end = time_ns(item, "endTime", required=False) or start
    if end < start:
        raise RowError("endTime: before startTime")
    first = time_ns(item, "completionStartTime", required=False)
    failed = str(item.get("level") or "").upper() == "ERROR"
    context, segments = _context(item, mapping)
    return [
        Call(
            key=str(key),
            position=position,
            where=where,
            start_ns=start,
            end_ns=end,
            model=str(item.get("model") or ""),
            input_tokens=_tokens(item, "input", "promptTokens"),
            output_tokens=_tokens(item, "output", "completionTokens"),
            cost_usd=_cost(item),
            ttft_ms=None if first is None else max(0, first - start) / 1e6,
            status="error" if failed else "ok",
            error_type=str(item.get("statusMessage") or "error") if failed else "",
            context=context,
            segments=segments,
        )
    ]


def _items(path: Path, opener: Any) -> Iterator[tuple[int, str, dict[str, Any] | None, str, str]]:
    """(serial, where, object or None, error, raw): the objects of rows, and of API pages (``{"data": [...]}``)."""
    serial = 0
    for position, row, error, raw in rows(path, opener):
        if row is not None and isinstance(row.get("data"), list):
            for number, item in enumerate(row["data"], start=1):
                serial += 1
                yield serial, f"row {position}, item {number}", item if isinstance(item, dict) else None, "", ""
        else:
            serial += 1
            yield serial, f"row {position}", row, error, raw


def read_calls(path: Path, mapping: Mapping, opener: Any) -> Iterator[Item]:
    """Every generation of ``path`` as a Call (traces as context), or Rejected with its place and field."""
    for serial, where, item, error, raw in _items(path, opener):
        if item is None:
            yield Rejected(serial, f"{where}: {error or 'not an object'}", raw)
            continue
        try:
            yield from item_calls(item, mapping, serial, where)
        except (RowError, TypeError, ValueError, OverflowError) as exc:
            yield Rejected(serial, f"{where}: {exc}", raw or orjson.dumps(item, default=str).decode())


def feedback_records(path: Path, mapping: Mapping, opener: Any) -> Iterator[dict[str, Any]]:
    """Feedback events (request_id, ts, kind, value, with ``__line``) from Langfuse scores."""
    kinds = {name.lower(): kind for kind in FEEDBACK_KINDS for name in mapping.get(kind, ())}
    for serial, where, item, error, raw in _items(path, opener):
        if item is None:
            yield {"__line": serial, "__error": f"{where}: {error or 'not an object'}", "__raw": raw}
            continue
        kind = kinds.get(str(item.get("name") or "").lower())
        if kind is None:
            continue  # a score that is not user feedback (an evaluator's, a custom one)
        value: Any = item.get("value")
        if value in (None, "") and item.get("stringValue") not in (None, ""):
            value = item["stringValue"]
        if kind == "thumb":
            try:
                value = 1 if float(value) > 0 else -1
            except (TypeError, ValueError):
                value = {"true": 1, "false": -1}.get(str(value).lower(), value)
        yield {"__line": serial, "request_id": item.get("traceId"), "ts": item.get("timestamp"), "kind": kind,
               "value": value}  # fmt: skip


def looks_like(head: bytes) -> str | None:
    """``langfuse`` or ``langfuse-scores`` when a file's first bytes are a Langfuse export."""
    window = head[:65_536]
    if b"traceId" not in window:
        return None
    if b"dataType" in window:
        return "langfuse-scores"
    if any(k in window for k in (b"GENERATION", b"observations", b"calculatedTotalCost", b"usageDetails")):
        return "langfuse"
    return None

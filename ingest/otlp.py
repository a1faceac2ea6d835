"""OTLP/JSON traces with the OpenTelemetry GenAI semantic conventions, as calls.

Input: a ``TracesData`` document (``{"resourceSpans": [...]}``), or JSON Lines of them as the collector's file
exporter writes them. A span with a model (``gen_ai.response.model``, ``gen_ai.request.model`` or OpenInference's
``llm.model_name``) is a call; the spans of one trace (``traceId``, hex) form one request. Other spans only lend
their attributes (a user id on the root span). What is read, in order of preference:

- tokens: ``gen_ai.usage.input_tokens`` / ``output_tokens``, the older ``prompt_tokens`` / ``completion_tokens``,
  OpenInference's ``llm.token_count.prompt`` / ``completion``;
- cost (USD): OpenLIT's ``gen_ai.usage.cost``, LiteLLM's ``gen_ai.cost.total_cost`` (or its input + output parts),
  OpenInference's ``llm.cost.total`` (or ``llm.cost.prompt`` + ``llm.cost.completion``);
- latency from ``startTimeUnixNano``/``endTimeUnixNano`` (64-bit integers, as strings or numbers); time to first
  token from ``gen_ai.response.time_to_first_chunk`` or OpenLIT's ``gen_ai.server.time_to_first_token`` (s);
- errors from the span status (``code`` 2 / ``STATUS_CODE_ERROR``) and ``error.type``;
- user, session and segments per ingest/mapping.py.

A span whose fields cannot be read (a token count that is not a whole number, a time that is not an integer, no
trace id) is quarantined with the line, the span's place and the field; the rest of its trace loads.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from ingest.calls import Call, Item, Rejected
from ingest.mapping import Mapping
from ingest.rows import RowError, mapped, number, whole

MODEL_KEYS = ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name")
INPUT_TOKEN_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
OUTPUT_TOKEN_KEYS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion")
COST_KEYS = ("gen_ai.usage.cost", "gen_ai.cost.total_cost", "llm.cost.total")
COST_PARTS = (("gen_ai.cost.input_cost", "gen_ai.cost.output_cost"), ("llm.cost.prompt", "llm.cost.completion"))
TTFT_KEYS = ("gen_ai.response.time_to_first_chunk", "gen_ai.server.time_to_first_token")  # seconds
_STATUS_ERROR = (2, "2", "STATUS_CODE_ERROR", "Error")  # "Error": the collector's otel_traces.StatusCode
_RAW_CHARS = 1 << 20  # what the quarantine keeps of a line that is not JSON


def any_value(value: dict[str, Any]) -> Any:
    """The Python value of an OTLP/JSON ``AnyValue`` (intValue may be a string: 64-bit integers are)."""
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [any_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return attributes(value["kvlistValue"].get("values", []))
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def attributes(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """A ``KeyValue`` list as a dict."""
    return {pair["key"]: any_value(pair.get("value") or {}) for pair in pairs if "key" in pair}


def hex_id(value: Any, name: str) -> str:
    """A trace or span id as lowercase hex; OTLP/JSON writes hex, some exporters base64 (the protobuf mapping)."""
    if not isinstance(value, str) or not value:
        raise RowError(f"{name}: required")
    try:
        bytes.fromhex(value)
        return value.lower()
    except ValueError:
        pass
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        raise RowError(f"{name}: {value!r} is neither hex nor base64") from None


def _nanos(span: dict[str, Any], name: str) -> int:
    value = span.get(name)
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RowError(f"{name}: {value!r} is not an integer of nanoseconds") from None


def _first(attrs: dict[str, Any], keys: tuple[str, ...]) -> tuple[str, Any] | None:
    for key in keys:
        if attrs.get(key) not in (None, ""):
            return key, attrs[key]
    return None


def _whole(attrs: dict[str, Any], keys: tuple[str, ...]) -> int:
    found = _first(attrs, keys)
    return 0 if found is None else whole(attrs, found[0])


def _number(key: str, value: Any) -> float:
    return number(value, key) or 0.0


def _cost(attrs: dict[str, Any]) -> float | None:
    found = _first(attrs, COST_KEYS)
    if found is not None:
        return _number(*found)
    for parts in COST_PARTS:
        if any(attrs.get(p) is not None for p in parts):
            return sum(_number(p, attrs.get(p) or 0) for p in parts)
    return None


def _context(attrs: dict[str, Any], mapping: Mapping) -> tuple[dict[str, str], dict[str, str]]:
    fields = {name: keys for name, keys in mapping.items() if name != "segments"}
    context, _ = mapped(fields, attrs.get)
    segments = {  # OTLP segments are attribute-name prefixes, not objects
        key.removeprefix(prefix): str(value)
        for prefix in mapping.get("segments", ())
        for key, value in attrs.items()
        if key.startswith(prefix) and value not in (None, "")
    }
    return context, segments


def span_call(
    span: dict[str, Any], resource: dict[str, Any], mapping: Mapping, position: int, where: str
) -> Call | None:
    """One span as a call (``is_call`` False when it names no model, None when such a span has no readable trace
    id: not routewatch's to judge); raises RowError naming the bad field of a GenAI span."""
    attrs = {**resource, **attributes(span.get("attributes") or [])}
    found = _first(attrs, MODEL_KEYS)
    try:
        key = hex_id(span.get("traceId"), "traceId")
    except RowError:
        if found is None:
            return None
        raise
    context, segments = _context(attrs, mapping)
    call = Call(key=key, position=position, where=where, context=context, segments=segments)
    if found is None:
        call.is_call = False
        return call
    call.model = str(found[1])
    call.start_ns, call.end_ns = _nanos(span, "startTimeUnixNano"), _nanos(span, "endTimeUnixNano")
    if call.end_ns < call.start_ns:
        raise RowError("endTimeUnixNano: before startTimeUnixNano")
    call.input_tokens = _whole(attrs, INPUT_TOKEN_KEYS)
    call.output_tokens = _whole(attrs, OUTPUT_TOKEN_KEYS)
    call.cost_usd = _cost(attrs)
    ttft = _first(attrs, TTFT_KEYS)
    call.ttft_ms = None if ttft is None else _number(*ttft) * 1000
    status = span.get("status") or {}
    error_type = str(attrs.get("error.type") or "")
    if status.get("code") in _STATUS_ERROR or error_type:
        call.status = "error"
        call.error_type = error_type or str(status.get("message") or "error")
    return call


def _spans(document: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for resource_spans in document.get("resourceSpans") or []:
        resource = attributes((resource_spans.get("resource") or {}).get("attributes") or [])
        # scopeSpans since OTLP 0.19; instrumentationLibrarySpans before
        scopes = resource_spans.get("scopeSpans") or resource_spans.get("instrumentationLibrarySpans") or []
        for scope in scopes:
            for span in scope.get("spans") or []:
                yield span, resource


def _documents(path: Path, opener: Any) -> Iterator[tuple[int, Any, str, str]]:
    """(line, parsed document or None, error, text) for a JSON Lines file, or the one document of a JSON file."""
    with opener(path) as handle:
        first = handle.readline()
        try:
            whole_line = orjson.loads(first)
        except orjson.JSONDecodeError:
            whole_line = None
        if not isinstance(whole_line, dict):  # a pretty-printed document: read it whole
            text = first + handle.read()
            try:
                yield 1, orjson.loads(text), "", ""
            except orjson.JSONDecodeError as exc:
                yield 1, None, f"not valid JSON: {exc}", text[:_RAW_CHARS]
            return
        yield 1, whole_line, "", ""
        for number, line in enumerate(handle, start=2):
            if not line.strip():
                continue
            try:
                yield number, orjson.loads(line), "", ""
            except orjson.JSONDecodeError as exc:
                yield number, None, f"not valid JSON: {exc}", line[:_RAW_CHARS]


def read_calls(path: Path, mapping: Mapping, opener: Any) -> Iterator[Item]:
    """Every span of ``path`` as a Call, or Rejected with its line, place and field."""
    position = 0
    for line, document, error, text in _documents(path, opener):
        if document is None or not isinstance(document, dict):
            position += 1
            yield Rejected(position, f"line {line}: {error or 'not a TracesData object'}", text)
            continue
        for place, (span, resource) in enumerate(_spans(document), start=1):
            position += 1
            where = f"line {line}, span {place}"
            try:
                call = span_call(span, resource, mapping, position, where)
            except (RowError, TypeError, ValueError, AttributeError) as exc:
                raw = orjson.dumps(span).decode(errors="replace")
                yield Rejected(position, f"{where}: {exc}", raw)
                continue
            if call is not None:
                yield call


def looks_like(head: bytes) -> bool:
    """True when a file's first bytes are OTLP/JSON traces."""
    return b'"resourceSpans"' in head[:4096]

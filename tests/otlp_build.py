"""OTLP/JSON traces built per the specification (opentelemetry-proto's JSON mapping, GenAI semantic conventions)."""

from __future__ import annotations

from typing import Any

T0 = 1_790_000_000_000_000_000  # ns since the epoch (2026-09-21)


def value(v: Any) -> dict[str, Any]:
    """An OTLP/JSON AnyValue: ints as strings (64-bit integers are strings in the JSON mapping)."""
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    return {"stringValue": v}


def span(
    trace: str, span_id: str, start_ms: float, end_ms: float, attrs: dict[str, Any], error: bool = False
) -> dict[str, Any]:
    """One span; times in ms after T0, written as nanosecond strings."""
    out: dict[str, Any] = {
        "traceId": trace,
        "spanId": span_id,
        "name": "chat",
        "kind": 3,
        "startTimeUnixNano": str(T0 + int(start_ms * 1e6)),
        "endTimeUnixNano": str(T0 + int(end_ms * 1e6)),
        "attributes": [{"key": k, "value": value(v)} for k, v in attrs.items()],
    }
    if error:
        out["status"] = {"code": 2, "message": "upstream failed"}
    return out


def traces(spans: list[dict[str, Any]], resource: dict[str, Any] | None = None) -> dict[str, Any]:
    """A TracesData document with one resource and one scope."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": k, "value": value(v)} for k, v in (resource or {}).items()]},
                "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}],
            }
        ]
    }

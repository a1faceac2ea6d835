"""The data contract: one canonical record per logical request.

Every other part reads this table: the normalizer (types), the great-expectations suite (required fields,
ranges, allowed values), the loader (columns) and the docs test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["string", "timestamp", "float", "int", "bool", "decimal", "map", "calls"]

ESCALATION_REASONS = (
    "low_confidence",
    "validator_failed",
    "error",
    "timeout",
    "rate_limited",
    "user_retry",
    "policy",
    "other",
)
FEEDBACK_KINDS = ("thumb", "csat", "resolved", "ticket")
# Where a request's model spend comes from: reported by the source, tokens x routes.toml's price, both over its
# calls, or neither (an unpriced request: cost_usd is null, and it counts in no cost numerator or denominator).
COST_SOURCES = ("reported", "tokens_x_price", "mixed", "unpriced")
UNPRICED = "unpriced"
# Timestamps outside this window are impossible for a request log (typos, seconds read as milliseconds).
MIN_TS_EPOCH_S = 946_684_800  # 2000-01-01
MAX_FUTURE_S = 86_400  # a day of clock skew


@dataclass(frozen=True)
class Field:
    """One field of the canonical record."""

    name: str
    kind: Kind
    required: bool = False
    min_value: float | None = None
    max_value: float | None = None
    allowed: tuple[float | str, ...] | None = None
    default: object = None
    doc: str = ""


FIELDS: tuple[Field, ...] = (
    Field("request_id", "string", required=True, doc="unique per logical request"),
    Field("ts", "timestamp", required=True, doc="arrival; ISO 8601 with offset or epoch s/ms"),
    Field("user_id", "string", required=True, doc="end user (hashed is fine)"),
    Field("account_id", "string", default="", doc="customer or tenant"),
    Field("session_id", "string", default="", doc="conversation"),
    Field("language", "string", default="unknown", doc="e.g. en, es, hi"),
    Field("channel", "string", default="unknown", doc="api, chat, batch, ..."),
    Field("tier", "string", default="", doc="free, pro, enterprise, ..."),
    Field("region", "string", default="", doc="locale or region"),
    Field("segments", "map", default=None, doc="any other segment attribute"),
    Field("task_type", "string", default="", doc="code, math, extraction, ..."),
    Field("router", "string", default="", doc="router name and version"),
    Field("router_score", "float", doc="predicted difficulty or confidence"),
    Field("route", "string", required=True, doc="the tier the router first chose"),
    Field("final_route", "string", default=None, doc="the tier that answered (defaults to route)"),
    Field("model", "string", required=True, doc="the model that answered"),
    Field("escalated", "bool", default=False, doc="moved to a stronger tier"),
    Field("escalation_reason", "string", default="", allowed=("", *ESCALATION_REASONS), doc="why it escalated"),
    Field("attempts", "int", default=1, min_value=1, max_value=65_535, doc="model calls made"),
    Field("retries", "int", default=0, min_value=0, max_value=65_535, doc="retries of the same tier"),
    Field("input_tokens", "int", default=0, min_value=0, doc="summed over all calls"),
    Field("output_tokens", "int", default=0, min_value=0, doc="summed over all calls"),
    Field("cost_usd", "decimal", required=True, min_value=0, max_value=1e6, doc="model spend, all calls"),
    Field("router_cost_usd", "decimal", default=0, min_value=0, max_value=1e6, doc="the routing decision's cost"),
    Field("human_cost_usd", "decimal", default=0, min_value=0, max_value=1e6, doc="review or support cost"),
    Field("cost_source", "string", default="reported", allowed=COST_SOURCES, doc="where cost_usd comes from"),
    Field("latency_ms", "float", required=True, min_value=0, max_value=86_400_000, doc="end to end"),
    Field("ttft_ms", "float", min_value=0, max_value=86_400_000, doc="time to first token"),
    Field("router_latency_ms", "float", min_value=0, max_value=86_400_000, doc="time deciding the route"),
    Field("status", "string", default="ok", allowed=("ok", "error"), doc="ok or error"),
    Field("error_type", "string", default="", doc="http_429, timeout, ..."),
    Field("resolved", "bool", doc="resolved (null: not known yet)"),
    Field("thumb", "int", allowed=(-1, 1), doc="user feedback, -1 or +1"),
    Field("csat", "int", min_value=1, max_value=5, doc="satisfaction 1..5"),
    Field("shadow_route", "string", default="", doc="what a shadow router would have chosen"),
    Field("calls", "calls", doc="optional per-call detail"),
)
FIELDS_BY_NAME = {f.name: f for f in FIELDS}
REQUIRED = tuple(f.name for f in FIELDS if f.required)

# The per-call objects inside `calls`.
CALL_FIELDS: tuple[Field, ...] = (
    Field("model", "string", default=""),
    Field("route", "string", default=""),
    Field("input_tokens", "int", default=0, min_value=0),
    Field("output_tokens", "int", default=0, min_value=0),
    Field("cost_usd", "decimal", min_value=0),  # null: the call's cost is not known
    Field("latency_ms", "float", default=0, min_value=0),
    Field("status", "string", default="ok"),
    Field("error_type", "string", default=""),
)

# A feedback event, loaded into its own table and joined at query time.
FEEDBACK_FIELDS: tuple[Field, ...] = (
    Field("request_id", "string", required=True),
    Field("ts", "timestamp", required=True),
    Field("kind", "string", required=True, allowed=FEEDBACK_KINDS),
    Field("value", "float", required=True),
)

# A feedback event's value meets the contract of the request field it sets: the same kind (whole number or
# boolean) and the same range. A ticket is a count of support tickets.
FEEDBACK_VALUES: dict[str, Field] = {
    "thumb": FIELDS_BY_NAME["thumb"],
    "csat": FIELDS_BY_NAME["csat"],
    "resolved": FIELDS_BY_NAME["resolved"],
    "ticket": Field("ticket", "int", min_value=0, max_value=4_294_967_295, doc="support tickets opened"),
}

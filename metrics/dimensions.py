"""The dimensions a metric can be cut by: an allow-list of columns and keys of the ``segments`` map.

Only these identifiers ever reach SQL text; a segment key and every filter value are bound parameters.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from routewatch.sqlfiles import Query, query

if TYPE_CHECKING:
    from routewatch.store import Store

COLUMNS = (
    "language",
    "channel",
    "tier",
    "region",
    "task_type",
    "route",
    "final_route",
    "model",
    "router",
    "account_id",
    "status",
    "error_type",
    "escalation_reason",
)
# Dimensions that need an expression (their values compare as text: 'true' or 'false').
EXPRESSIONS = {"escalated": "toString(escalated)"}
SEGMENT_PREFIX = "segments."
# The value of segments.<key> for a request without that key (a key with a null value included), so that it never
# groups with a real "" value; like the "unknown" of a missing language or channel, a label in every format.
MISSING_SEGMENT = "(missing)"
# Time buckets: only these expressions reach SQL text. The rollup has a day column instead of ts.
BUCKETS = {"hour": "toStartOfHour(ts)", "day": "toStartOfDay(ts)", "week": "toStartOfWeek(ts, 1)"}
ROLLUP_BUCKETS = {"day": "toStartOfDay(toDateTime(day, 'UTC'))", "week": "toStartOfWeek(day, 1)"}
# The dimensions rollup_daily keeps (sql/schema/006_feedback_in_requests.sql).
ROLLUP_DIMENSIONS = frozenset(
    {
        "router",
        "route",
        "final_route",
        "model",
        "language",
        "channel",
        "tier",
        "region",
        "task_type",
        "status",
        "error_type",
        "escalated",
        "escalation_reason",
    }
)
# Query settings for SQL whose output names equal column names (requests, escalated): columns win over aliases.
COLUMNS_FIRST = {"prefer_column_name_to_alias": 1}
_SEGMENT_KEY_PUNCTUATION = frozenset("_.: -")


def segment_key_ok(key: str) -> bool:
    """Whether a ``segments`` key can be a dimension: 1 to 64 letters, marks, digits, spaces or ``_ . : -`` (the
    rule ingest applies, routewatch_segment_key_ok in sql/schema/015_faster_parse_functions.sql, so that every
    key that loads can be queried; such a key is safe as a quoted alias, and its value is always bound)."""
    return 1 <= len(key) <= 64 and all(
        ch in _SEGMENT_KEY_PUNCTUATION or unicodedata.category(ch)[0] in "LMN" for ch in key
    )


def nfc(text: str) -> str:
    """Text in Unicode NFC, as ingest stores it, so that what looks the same matches the same."""
    return unicodedata.normalize("NFC", text)


class DimensionError(ValueError):
    """A dimension that is not on the allow-list."""


@dataclass(frozen=True)
class Rendered:
    """SQL fragments for the chosen dimensions and filters, with their bound parameters."""

    dims: str
    group_by: str
    filters: str
    params: dict[str, Any]


def expression(name: str, slot: str, params: dict[str, Any]) -> str:
    """SQL for one dimension; a segment key is bound as parameter ``slot``."""
    if name in COLUMNS:
        return name
    if name in EXPRESSIONS:
        return EXPRESSIONS[name]
    key = name.removeprefix(SEGMENT_PREFIX)
    if name.startswith(SEGMENT_PREFIX) and segment_key_ok(key):
        params[slot] = nfc(key)
        params["missing_segment"] = MISSING_SEGMENT
        return f"if(mapContains(segments, {{{slot}:String}}), segments[{{{slot}:String}}], {{missing_segment:String}})"
    allowed = ", ".join([*COLUMNS, *EXPRESSIONS])
    raise DimensionError(f"unknown dimension {name!r}: use one of {allowed}, or segments.<key>")


def segment_dimensions(store: Store, limit: int = 50) -> list[str]:
    """``segments.<key>`` for the keys of the ``segments`` map in the store, the most used first (at most
    ``limit``), for choosers that offer every dimension a user can cut by."""
    rows = store.query_rows(query("segment_keys").text, {"limit": limit})
    return [SEGMENT_PREFIX + str(key) for key, _ in rows if segment_key_ok(str(key))]


def render(by: list[str], where: dict[str, str], bucket: str | None = None, rollup: bool = False) -> Rendered:
    """Fragments that group by ``bucket`` (hour, day, week) and ``by``, and filter on ``where`` (dimension -> value).

    With ``rollup`` the fragments are for rollup_daily (see ``answers_from_rollup``).
    """
    params: dict[str, Any] = {}
    dims, names = [], []
    if bucket is not None:
        if bucket not in BUCKETS:
            raise DimensionError(f"unknown bucket {bucket!r}: use one of {', '.join(BUCKETS)}")
        dims.append(f"{(ROLLUP_BUCKETS if rollup else BUCKETS)[bucket]} AS bucket,")
        names.append("bucket")
    for i, name in enumerate(by):
        dims.append(f"{expression(name, f'dk{i}', params)} AS `{name}`,")
        names.append(f"`{name}`")
    filters = []
    for i, (name, value) in enumerate(where.items()):
        filters.append(f"AND {expression(name, f'wk{i}', params)} = {{wv{i}:String}}")
        params[f"wv{i}"] = nfc(value)
    return Rendered(
        dims="\n".join(dims),
        group_by=f"GROUP BY {', '.join(names)}" if names else "",
        filters="\n".join(filters),
        params=params,
    )


def answers_from_rollup(by: list[str], where: dict[str, str], bucket: str | None) -> bool:
    """Whether rollup_daily has every dimension and the time grain a cut needs."""
    return set(by) | set(where) <= ROLLUP_DIMENSIONS and bucket in (None, *ROLLUP_BUCKETS)


def fill(template: Query, rendered: Rendered, **slots: str) -> str:
    """A query rendered with the fragments of ``rendered`` in those of its ``dims``, ``filters`` and ``group_by``
    slots it declares, and ``slots`` in the others (SlotError for a slot left unfilled or unknown)."""
    fragments = {"dims": rendered.dims, "filters": rendered.filters, "group_by": rendered.group_by}
    return template.render(**{slot: text for slot, text in fragments.items() if slot in template.slots}, **slots)

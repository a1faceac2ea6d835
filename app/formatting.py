"""Numbers and metric names as a person reads them: the labels and units of the metric table (metrics.registry).

Every helper takes a raw value and returns text; a missing value reads "n/a". Downloads and ``--format json`` keep
the machine names and raw values: only what is shown goes through here.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from metrics import registry
from metrics.dimensions import COLUMNS as DIMENSION_COLUMNS
from metrics.gaps import GAP_METRICS, STATUS_LABELS, Z95

MISSING = "n/a"
# A group whose optional field was not sent (an empty task_type, tier, router, ...): named, never a blank row.
NOT_SET = "(not set)"
# Columns that hold the value of a dimension: the store's dimension columns and a gap table's segment names.
_GROUP_COLUMNS = frozenset({*DIMENSION_COLUMNS, "segment", "reference"})
_ESCALATED = {"true": "escalated", "1": "escalated", "false": "not escalated", "0": "not escalated"}
# Words of the columns a gap table or a page adds, beside the metric table's own (registry.COLUMN_FORMATS).
_WORDS = {
    "dimension": "Dimension",
    "segment": "Segment",
    "reference": "Reference",
    "metric": "Metric",
    "status": "Status",
    "in_plain_words": "In plain words",
    "share": "Share",
    "share_of_spend": "Share of the spend",
    "latency_ms": "Latency bin",
    "double_paid_usd": "Double-paid",
    "value": "Segment's value",
    "reference_value": "Reference's value",
    "gap": "Gap",
    "ci_low": "Interval low",
    "ci_high": "Interval high",
    "adjusted_gap": "Gap at the same task mix",
    "more_requests_to_decide": "More requests to decide",
    "severity": "Severity",
    "metrics": "Metrics",
    "evidence": "Evidence",
    "route": "Route",
    "final_route": "Final route",
    "model": "Model",
    "router": "Router version",
    "language": "Language",
    "channel": "Channel",
    "tier": "Tier",
    "region": "Region",
    "task_type": "Task type",
    "bucket": "Day",
    "day": "Day",
    "escalated_flag": "Escalated",
    "error_type": "Error type",
    "window_start": "Day judged",
    "at": "At",
    "kind": "Event",
    "actor": "By",
    "note": "Note",
}
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def label_of(name: str) -> str:
    """The registry's label of a metric."""
    return registry.get(name).label


def help_of(name: str) -> str:
    """The registry's help text of a metric."""
    return registry.get(name).help


def label(name: str) -> str:
    """A column, metric or dimension as a person names it: the metric table's label when it has one
    ("p95_ms" -> "p95 latency"), else the words of a gap table's column, else the name with spaces."""
    if name in registry.COLUMN_FORMATS:
        return registry.COLUMN_FORMATS[name][0]
    gap_test = GAP_METRICS[name].gap if name in GAP_METRICS else None
    if gap_test is not None:
        words = gap_test.label
        return words if words[:1] == "p" and words[1:2].isdigit() else words[:1].upper() + words[1:]
    if name in registry.METRICS_BY_NAME:
        return registry.METRICS_BY_NAME[name].label
    if name in _WORDS:
        return _WORDS[name]
    if name.startswith("segments."):
        return name.removeprefix("segments.").replace("_", " ").capitalize()
    return name.replace("_", " ").capitalize()


def name_groups(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its groups named as a person reads them: each empty text value of a dimension column
    (``task_type`` "" when the field was not sent) as NOT_SET, and the ``escalated`` dimension's true and false as
    "escalated" and "not escalated"; ``frame`` itself (and its CSV download) keeps the stored values. A frame with
    nothing to name is returned as it is."""
    texts = [c for c in frame.columns if c in _GROUP_COLUMNS and pd.api.types.is_string_dtype(frame[c])]
    named = {c: frame[c].replace("", NOT_SET) for c in texts if (frame[c] == "").any()}
    if "escalated" in frame.columns:
        named["escalated"] = frame["escalated"].map(lambda v: _ESCALATED.get(str(v).lower(), v))
    return frame.assign(**named) if named else frame


def status(value: str) -> str:
    """A status with its icon and two words ("confirmed" -> "✖ Real gap")."""
    return STATUS_LABELS.get(str(value), str(value))


def count(value: float) -> str:
    """12345 -> 12,345."""
    return MISSING if _missing(value) else f"{value:,.0f}"


def percent(value: float, digits: int = 1) -> str:
    """0.1234 -> 12.3%."""
    return MISSING if _missing(value) else f"{value:.{digits}%}"


def usd(value: float) -> str:
    """Dollars to a precision a person reads: $1,234 for hundreds and more, $12.34 from a dollar, three
    significant digits below ($0.00799, $0.0123): a cost per request is a fraction of a cent."""
    if _missing(value):
        return MISSING
    size = abs(value)
    if size >= 100:
        return f"${value:,.0f}" if value >= 0 else f"-${size:,.0f}"
    if size >= 1 or size == 0:
        return f"${value:,.2f}" if value >= 0 else f"-${size:,.2f}"
    decimals = 2 - math.floor(math.log10(size))  # three significant digits
    text = f"${size:.{decimals}f}"
    return text if value >= 0 else f"-{text}"


def ms(value: float) -> str:
    """1407.1048 -> 1,407 ms."""
    return MISSING if _missing(value) else f"{value:,.0f} ms"


def score(value: float) -> str:
    """A mean rating on 1..5: 4.213 -> 4.21."""
    return MISSING if _missing(value) else f"{value:.2f}"


def pvalue(value: float) -> str:
    """A p-value in scientific notation, 3.2e-09 -> 3.2 × 10⁻⁹; from 0.001 up, plainly (0.042)."""
    if _missing(value):
        return MISSING
    if value >= 0.001:
        return f"{value:.2g}"
    if value <= 0:
        return "< 10⁻³⁰⁰"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa} × 10{str(int(exponent)).translate(_SUPERSCRIPT)}"


def points(value: float, signed: bool = True) -> str:
    """A difference of two rates in percentage points: -0.119 -> -11.9 pp."""
    if _missing(value):
        return MISSING
    text = f"{abs(value) * 100:.1f} pp"
    return (("-" if value < 0 else "+") + text) if signed and round(value * 1000) else text


def relative(value: float) -> str:
    """A relative change: 0.169 -> +16.9%."""
    if _missing(value):
        return MISSING
    return ("-" if value < 0 else "+") + f"{abs(value):.1%}" if round(value * 1000) else f"{abs(value):.1%}"


def by_format(kind: str, value: float) -> str:
    """A value in one of the metric table's column formats (registry.Format)."""
    shown = {
        "count": count,
        "percent": percent,
        "usd": usd,
        "usd_total": usd,
        "ms": ms,
        "score": score,
        "pvalue": pvalue,
    }
    return shown[kind](value)


def column_value(column: str, value: float) -> str:
    """A value of a known column in its format (registry.COLUMN_FORMATS), else as it is."""
    if column in registry.COLUMN_FORMATS:
        return by_format(registry.COLUMN_FORMATS[column][1], value)
    return MISSING if _missing(value) else str(value)


def metric_value(metric: str, value: float) -> str:
    """A gap metric's value in its unit: a rate as %, p95 latency in ms, a cost in $, CSAT on 1..5."""
    kind = GAP_METRICS[metric].kind if metric in GAP_METRICS else "binary"
    if kind == "binary":
        return percent(value)
    if kind == "ordinal":
        return score(value)
    if metric.startswith("latency"):
        return ms(value)
    return usd(value)


def gap(metric: str, value: float) -> str:
    """A gap in its unit: points (pp) for a rate or CSAT, a relative change for p95 latency and cost."""
    relative_gap = metric in GAP_METRICS and GAP_METRICS[metric].relative
    return relative(value) if relative_gap else points(value)


def gap_interval(metric: str, value: float, low: float, high: float) -> str:
    """A gap with its 95% interval: "-11.9 pp (-14.2 to -9.6)" or "+16.9% (+10.1% to +24.0%)"."""
    if _missing(value):
        return MISSING
    if _missing(low) or _missing(high):
        return gap(metric, value)
    if metric in GAP_METRICS and GAP_METRICS[metric].relative:
        return f"{relative(value)} ({relative(low)} to {relative(high)})"
    bare = [points(v).removesuffix(" pp") for v in (low, high)]
    return f"{points(value)} ({bare[0]} to {bare[1]})"


def at_same_task_mix(gaps: pd.DataFrame) -> pd.DataFrame:
    """A gap table as the dashboard shows it: ``gap``, ``ci_low`` and ``ci_high`` are the task-mix-adjusted gap and
    its own 95% interval (``adjusted_gap`` plus or minus 1.96 ``adjusted_se``), the gap a status judges (R3), and
    ``raw_gap`` keeps the raw one; a row without an adjusted standard error keeps its raw gap and interval. The
    numbers the alerts and the weekly audit's sentences give. ``gaps`` itself is not changed."""
    if gaps.empty or not {"adjusted_gap", "adjusted_se", "gap", "ci_low", "ci_high"} <= set(gaps.columns):
        return gaps
    adjusted = pd.to_numeric(gaps["adjusted_gap"], errors="coerce")
    se = pd.to_numeric(gaps["adjusted_se"], errors="coerce")
    known = adjusted.notna() & se.notna()
    return gaps.assign(
        raw_gap=gaps["gap"],
        gap=adjusted.where(known, gaps["gap"]),
        ci_low=(adjusted - Z95 * se).where(known, gaps["ci_low"]),
        ci_high=(adjusted + Z95 * se).where(known, gaps["ci_high"]),
    )


def costs_sentence(by_route: pd.DataFrame) -> str:
    """The all-in against naive story in one sentence with its numbers, from the cost_per_resolved metric by route:
    what a resolved request costs all-in, the naive model spend per request, how many times that is, and each
    route's all-in cost per resolved request."""
    total = by_route[["cost_usd", "model_cost_usd", "priced", "priced_resolved"]].astype(float).sum()
    all_in = total["cost_usd"] / total["priced_resolved"] if total["priced_resolved"] else float("nan")
    naive = total["model_cost_usd"] / total["priced"] if total["priced"] else float("nan")
    times = f", **{all_in / naive:.1f}×** what model spend per request suggests" if naive and naive == naive else ""
    routes = "; ".join(
        f"{row.route} {usd(row.cost_per_resolved)}"
        for row in by_route.sort_values("cost_per_resolved").itertuples()
        if not _missing(row.cost_per_resolved)
    )
    return (
        f"A resolved request costs **{usd(all_in)}** all-in (model, router and human cost, failed and unresolved "
        f"requests included), against a naive **{usd(naive)}** of model spend per request{times}. "
        f"All-in per resolved request by route: {routes}."
    )


def gap_direction(metric: str, value: float) -> str:
    """Whether a gap (segment minus reference) serves the segment ``worse`` or ``better``, by the metric table's
    better direction, or only ``different`` for a metric that has none (escalation rate)."""
    better = GAP_METRICS[metric].better if metric in GAP_METRICS else "neither"
    if better == "neither" or _missing(value) or value == 0:
        return "different"
    return "worse" if (value < 0) == (better == "higher") else "better"

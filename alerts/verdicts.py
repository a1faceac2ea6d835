"""What the alerts read from the store: the stored verdicts (gap_decisions) and the facts of each metric.

This is the one seam between the alert job and ``metrics``: the lifecycle, the emails and the dashboard's
alerts page read verdicts, margins and what the router does to a segment only through these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from statistics import NormalDist
from typing import Any

import pandas as pd

from metrics.decisions import DECISION_COLUMNS, QUALITY, WEEKLY_AUDIT, touched_users
from metrics.gaps import (
    GAP_METRICS,
    MARGINS,
    STATUS_LABELS,
    STATUS_WORDS,
    Z95,
    GapSettings,
    gap_label,
    gap_words,
)
from metrics.registry import Better, compute
from routewatch.migrations import table_exists
from routewatch.sqlfiles import query
from routewatch.store import Store


@dataclass(frozen=True)
class MetricFacts:
    """How a gap metric is judged: its practical margin (rate points, or a relative change for ratio metrics),
    which direction is better for the users, and its name in a sentence."""

    margin: float
    better: Better
    label: str
    relative: bool  # the gap is a ratio - 1 (p95 latency, cost per request), else a difference


def metric_facts(metric: str) -> MetricFacts:
    """The margin, the better direction and the label of a gap metric, from the metric table
    (``metrics.gaps.GAP_METRICS``): its margin is the verdicts' margin."""
    entry = GAP_METRICS[metric]
    return MetricFacts(margin=MARGINS[metric], better=entry.better, label=gap_label(metric), relative=entry.relative)


__all__ = ["QUALITY", "STATUS_LABELS", "STATUS_WORDS", "gap_words"]  # the words of the verdicts, for the emails


def severity_quantile(window: pd.DataFrame, q: float = GapSettings().q) -> float:
    """The normal quantile of the false-coverage-rate interval that ``routewatch gaps`` gives the selected
    contrasts of one window's family (README: severity is ``critical`` when that interval lies wholly beyond the
    margin): level 1 - R q / m over the m tested contrasts (a corrected p-value), R of them rejected. 95% when
    none is rejected."""
    p = pd.to_numeric(window.get("p_adjusted", pd.Series(dtype=float)), errors="coerce").dropna()
    selected = int((p < q).sum())
    if not len(p) or not selected:
        return Z95
    return NormalDist().inv_cdf(1 - selected * q / len(p) / 2)


def is_harm(metric: str, gap: float) -> bool:
    """Whether a gap (segment minus reference) hurts the segment: lower quality, higher latency or cost, or an
    escalation rate that differs either way."""
    better = metric_facts(metric).better
    return gap < 0 if better == "higher" else gap > 0 if better == "lower" else gap != 0


def decisions_since(store: Store, since: date) -> pd.DataFrame:
    """Every stored verdict of a window after ``since``, oldest window first (``DECISION_COLUMNS``; empty before
    the first ``routewatch decide``)."""
    if not table_exists(store, "gap_decisions"):
        return pd.DataFrame(columns=list(DECISION_COLUMNS))
    frame = store.query_df(query("alerts_decisions_since").text, {"since": since})
    frame["window_start"] = pd.to_datetime(frame["window_start"]).dt.date
    return frame


def decided_windows(store: Store) -> dict[date, datetime | None]:
    """Each decided window and when its newest verdict was stored (UTC; empty before the first ``decide``)."""
    if not table_exists(store, "gap_decisions"):
        return {}
    frame = store.query_df(query("alerts_decided_windows").text)
    return {
        pd.Timestamp(w).date(): utc_time(t) for w, t in zip(frame["window_start"], frame["decided_at"], strict=True)
    }


def utc_time(when: Any) -> datetime | None:
    """An aware UTC time from the store or the state database (SQLite gives naive UTC), None for a missing one."""
    if when is None or pd.isna(when):
        return None
    moment: datetime = pd.Timestamp(when).to_pydatetime()
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def is_weekly_audit(note: str) -> bool:
    """Whether a stored verdict is the weekly confirmatory audit (the Sunday that closes an ISO week)."""
    return WEEKLY_AUDIT in (note or "")


def period(window: date, weekly: bool) -> tuple[datetime, datetime]:
    """The UTC time span a verdict judged: its day, or with ``weekly`` the ISO week that the day closes."""
    end = datetime.combine(window, time(), tzinfo=UTC) + timedelta(days=1)
    return end - timedelta(days=7 if weekly else 1), end


@dataclass(frozen=True)
class SegmentReach:
    """Who a segment is and what the router does to it over a period, beside its reference."""

    users: int
    cost_usd: float
    escalation_rate: float
    reference_escalation_rate: float
    cheap_share: float
    reference_cheap_share: float


def segment_reach(
    store: Store,
    contrasts: list[tuple[str, str, str]],
    since: datetime,
    until: datetime,
    cheap_route: str = "cheap",
) -> dict[tuple[str, str], SegmentReach]:
    """For each (dimension, segment, reference): its distinct users and model spend, and its escalation rate and
    cheap share against the reference's, over [since, until)."""
    if not contrasts:
        return {}
    pairs = sorted({(d, s) for d, s, _ in contrasts})
    touched = touched_users(store, pairs, since=since, until=until).set_index(["dimension", "segment"])
    rates: dict[str, pd.DataFrame] = {}
    for dimension in {d for d, _, _ in contrasts}:
        escalation = compute(store, "escalation_rate", by=[dimension], since=since, until=until)
        cheap = compute(store, "cheap_share", by=[dimension], since=since, until=until, cheap_route=cheap_route)
        rates[dimension] = escalation.merge(cheap[[dimension, "cheap_share"]], on=dimension).set_index(dimension)
    reach = {}
    for dimension, segment, reference in contrasts:
        table = rates[dimension]

        def rate(name: str, who: str, table: pd.DataFrame = table) -> float:
            return float(table.at[who, name]) if who in table.index else float("nan")

        reach[(dimension, segment)] = SegmentReach(
            users=int(touched.at[(dimension, segment), "users"]),
            cost_usd=float(touched.at[(dimension, segment), "cost_usd"]),
            escalation_rate=rate("escalation_rate", segment),
            reference_escalation_rate=rate("escalation_rate", reference),
            cheap_share=rate("cheap_share", segment),
            reference_cheap_share=rate("cheap_share", reference),
        )
    return reach

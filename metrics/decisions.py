"""Decisions over time, read: the verdicts the alert job stored in ``gap_decisions`` (``alerts.judge`` writes
them, once per closed UTC day), the verdict of a window, and the second-class users they name.

``metrics`` writes nothing: the judging job that decides each closed day lives in ``alerts/``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd

from metrics.dimensions import expression, fill, render
from metrics.gaps import BINARY, COLUMNS, GAP_METRICS, GapSettings, Status, adjusted_interval, gap_table, gap_words
from metrics.window import EPOCH, FAR_FUTURE
from routewatch.sqlfiles import part, query
from routewatch.store import Store

# Quality in rate points, where worse = lower: the binary gap metrics that serve users better when higher.
QUALITY = tuple(name for name in BINARY if GAP_METRICS[name].better == "higher")
WEEKLY_AUDIT = "weekly audit"  # the note of the verdicts that pool an ISO week (written on its Sunday)
# The gap table's columns, plus the window, the CUSUM state and when it was decided (sql/schema/004).
DECISION_COLUMNS = (
    "window_start",
    *COLUMNS,
    "adjusted_se",
    "cusum_up",
    "cusum_down",
    "cusum_alarm",
    "cusum_h",
    "note",
    "decided_at",
)


def latest_decisions(store: Store, audit: bool = False) -> pd.DataFrame:
    """The decisions of the most recent decided day, or with ``audit`` of the most recent weekly audit."""
    return store.query_df(query("decisions_latest").text, {"weekday": 7 if audit else 0})


def decision_history(store: Store, statuses: tuple[str, ...] = (Status.CONFIRMED, Status.WARNING)) -> pd.DataFrame:
    """Every stored decision with one of ``statuses``, the newest window first (empty before the first run)."""
    from routewatch.migrations import table_exists

    if not table_exists(store, "gap_decisions"):
        return pd.DataFrame(columns=list(DECISION_COLUMNS))
    return store.query_df(query("decisions_history").text, {"statuses": [str(s) for s in statuses]})


def last_closed_week(today: date) -> tuple[date, date]:
    """The Monday and the Sunday of the most recent ISO week that closed before ``today`` (a UTC date)."""
    sunday = today - timedelta(days=today.isoweekday() % 7 or 7)
    return sunday - timedelta(days=6), sunday


@dataclass(frozen=True)
class Verdict:
    """Who is second-class over one window of whole UTC days, and how that was decided: the one answer that
    ``routewatch second-class``, the demo's summary and the dashboard give for that window."""

    first_day: date
    last_day: date  # inclusive
    stored: bool  # True: the weekly audit stored by `routewatch decide`; False: computed now, not a decision
    users: pd.DataFrame  # second_class_users' rows

    def describe(self) -> str:
        """Which window and which test, in one sentence."""
        if self.stored:
            kind = "the weekly audit stored by `routewatch decide`"
        else:
            kind = "the gap statistics computed now (exploratory, not a stored decision)"
        return (
            f"{self.first_day} to {self.last_day} (UTC days), by {kind}: task-mix-adjusted gaps against each "
            "dimension's reference, Benjamini-Hochberg across every comparison, confirmed only beyond the margin"
        )


def _decided(store: Store, day: date) -> pd.DataFrame:
    from routewatch.migrations import table_exists

    if not table_exists(store, "gap_decisions"):
        return pd.DataFrame(columns=list(DECISION_COLUMNS))
    return store.query_df(query("decisions_window").text, {"day": day})


def verdict(
    store: Store,
    dimensions: list[str],
    first_day: date,
    last_day: date,
    settings: GapSettings | None = None,
) -> Verdict:
    """The second-class users of ``dimensions`` over the days ``first_day`` to ``last_day`` (inclusive). An ISO
    week that `routewatch decide` has audited is read from its stored decisions, so every view shows the verdict
    that was decided; any other window is computed now with the same statistics."""
    if first_day.isoweekday() == 1 and last_day == first_day + timedelta(days=6):
        stored = _decided(store, last_day)
        if not stored.empty and stored["note"].str.contains(WEEKLY_AUDIT).any():
            chosen = stored[stored["dimension"].isin(dimensions)]
            return Verdict(first_day, last_day, True, second_class_users(chosen, settings))
    since = datetime.combine(first_day, time(), tzinfo=UTC)
    until = datetime.combine(last_day + timedelta(days=1), time(), tzinfo=UTC)
    table = gap_table(store, dimensions, settings, since=since, until=until)
    return Verdict(first_day, last_day, False, second_class_users(table, settings))


def latest_audit(store: Store, dimensions: list[str]) -> Verdict | None:
    """The verdict of the most recent weekly audit stored by `routewatch decide`, or None before the first."""
    audit = latest_decisions(store, audit=True)
    if audit.empty:
        return None
    sunday = pd.Timestamp(audit["window_start"].iloc[0]).date()
    chosen = audit[audit["dimension"].isin(dimensions)]
    return Verdict(sunday - timedelta(days=6), sunday, True, second_class_users(chosen))


def _points_lower(row: Any, reference: str) -> str:
    """How much lower a quality rate is than the reference's, in points, with the adjusted gap's own 95% interval
    where its standard error is known: "11.3 points lower than en (95% interval 9.8 to 12.8)"."""
    gap = abs(float(row.adjusted_gap))
    interval = adjusted_interval(gap, float(getattr(row, "adjusted_se", math.nan)))
    if interval is None:
        return f"{gap * 100:.1f} points lower than {reference}"
    low, high = (bound * 100 for bound in interval)
    return f"{gap * 100:.1f} points lower than {reference} (95% interval {low:.1f} to {high:.1f})"


def second_class_users(table: pd.DataFrame, settings: GapSettings | None = None) -> pd.DataFrame:
    """Segments confirmed worse on quality, worse still when the router also escalates them less.

    ``table`` is a gap table (``metrics.gaps.gap_table``). One row per second-class segment, with the evidence
    in one sentence a PM can forward.
    """
    settings = settings or GapSettings()
    rows: list[dict[str, Any]] = []
    confirmed = table[table["status"] == Status.CONFIRMED.value]
    for (dimension, segment), group in confirmed.groupby(["dimension", "segment"]):
        worse = group[group["metric"].isin(QUALITY) & (group["adjusted_gap"] < 0)]
        if worse.empty:
            continue
        escalation = group[(group["metric"] == "escalation_rate") & (group["adjusted_gap"] < 0)]
        severity = "critical" if len(escalation) else "high"
        reference = str(worse["reference"].iloc[0])
        parts = [f"{_label(str(row.metric))} {_points_lower(row, reference)}" for row in worse.itertuples()]
        if len(escalation):
            points = abs(float(escalation["adjusted_gap"].iloc[0])) * 100
            parts.append(f"and the router escalates them {points:.1f} points less")
        rows.append(
            {
                "dimension": dimension,
                "segment": segment,
                "reference": reference,
                "severity": severity,
                "metrics": ", ".join(worse["metric"]),
                "requests": int(group["requests"].max()),
                "users": int(group["users"].max()),
                "evidence": f"{dimension}={segment}: " + "; ".join(parts) + ", at the same task mix.",
            }
        )
    columns = ["dimension", "segment", "reference", "severity", "metrics", "requests", "users", "evidence"]
    return pd.DataFrame(rows, columns=columns).sort_values(["severity", "requests"], ascending=[True, False])


def touched_users(
    store: Store,
    segments: list[tuple[str, str]],
    since: datetime | None = None,
    until: datetime | None = None,
    where: dict[str, str] | None = None,
) -> pd.DataFrame:
    """For each (dimension, segment): its distinct users over a window and cut, their share of all its users and
    their model spend, in one scan for every segment (the second-class page shows each one's)."""
    columns = ["dimension", "segment", "users", "share", "cost_usd"]
    if not segments:
        return pd.DataFrame(columns=columns)
    rendered = render([], where or {})
    params: dict[str, Any] = {"since": since or EPOCH, "until": until or FAR_FUTURE, **rendered.params}
    pairs = []
    for i, (dimension, segment) in enumerate(segments):
        params[f"s{i}"] = segment
        column = expression(dimension, f"tk{i}", params)
        pairs.append(part("second_class_touched_pair").render(dimension=column, i=str(i)))
    sql = fill(query("second_class_touched"), rendered, pairs="\n".join(pairs))
    counts = store.query_df(sql, params).iloc[0]
    total = int(counts["users"])
    rows = []
    for i, (dimension, segment) in enumerate(segments):
        users = int(counts[f"users_{i}"])
        rows.append((dimension, segment, users, users / total if total else 0.0, float(counts[f"cost_usd_{i}"])))
    return pd.DataFrame(rows, columns=columns)


def early_warnings(decisions: pd.DataFrame) -> pd.DataFrame:
    """The CUSUM warnings among stored decisions, each with one sentence: who, on what, by how much."""
    warned = decisions[decisions["status"] == Status.WARNING.value]
    rows = [
        {
            "window_start": row.window_start,
            "dimension": row.dimension,
            "segment": row.segment,
            "metric": row.metric,
            "adjusted_gap": row.adjusted_gap,
            "evidence": f"{row.dimension}={row.segment}: {_label(row.metric)} "
            f"{gap_words(row.metric, row.adjusted_gap)} than {row.reference} at the same task mix on "
            f"{row.window_start:%Y-%m-%d}, an early warning; the weekly audit confirms or closes it.",
        }
        for row in warned.itertuples(index=False)
    ]
    columns = ["window_start", "dimension", "segment", "metric", "adjusted_gap", "evidence"]
    return pd.DataFrame(rows, columns=columns)


def _label(metric: str) -> str:
    gap = GAP_METRICS[metric].gap
    return gap.short if gap else metric

"""The headline numbers of a period beside the period before it, and their daily trend.

Every sum comes from the daily rollup: volume, escalation, errors, cheap share, latency histograms, spend and
outcomes (late feedback is folded into the request rows it rates, so the rollup counts it exactly).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

import numpy as np
import pandas as pd

from metrics import registry
from metrics.dimensions import COLUMNS_FIRST, fill, render
from metrics.latency import histogram_quantile, merge_histograms
from metrics.registry import Better
from routewatch.sqlfiles import query
from routewatch.store import Store


@dataclass(frozen=True)
class Kpi:
    """One headline number: how it is computed from daily sums, and the entry of the metric table (``metric``) whose
    label, direction (``better``) and help it takes, unless it is one column of that metric with a label and a help
    of its own."""

    name: str
    numerator: str
    denominator: str | None
    fmt: Literal["count", "usd", "percent", "ms"]
    metric: str
    own_label: str | None = None
    own_help: str | None = None

    @property
    def label(self) -> str:
        """Its name on a tile: its own label, else the metric table's."""
        return self.own_label or registry.get(self.metric).label

    @property
    def better(self) -> Better:
        """Which way serves users better, from the metric table."""
        return registry.get(self.metric).better

    @property
    def help(self) -> str:
        """What the number means: its own help, else the metric table's."""
        return self.own_help or registry.get(self.metric).help


KPIS: tuple[Kpi, ...] = (
    Kpi("requests", "requests", None, "count", "volume", "Requests"),
    Kpi("cost_per_resolved", "all_in", "priced_resolved", "usd", "cost_per_resolved"),
    Kpi(
        "cost_per_request",
        "spend",
        "priced",
        "usd",
        "cost_per_resolved",
        "Naive cost per request",
        "Model spend per request: the figure a cost dashboard shows, blind to failed answers. Over priced requests "
        "(an unpriced one, with neither a cost nor a price, is in no cost figure).",
    ),
    Kpi("escalation_rate", "escalated", "requests", "percent", "escalation_rate"),
    Kpi(
        "p95_ms",
        "latency_hist",
        None,
        "ms",
        "latency",
        "Latency, p95",
        "95th percentile of end-to-end latency, read from the daily rollup's histogram (within 1.3%).",
    ),
    Kpi("resolution_rate", "resolved", "known", "percent", "resolution_rate"),
    Kpi("thumbs_up_rate", "thumbs_up", "rated", "percent", "thumbs_up_rate"),
    Kpi("error_rate", "errors", "requests", "percent", "error_rate"),
    Kpi("cheap_share", "cheap", "requests", "percent", "cheap_share"),
)
# spend and all_in cover priced requests only, so the cost KPIs divide by priced and priced_resolved
SUMS = ("requests", "escalated", "errors", "cheap", "spend", "all_in", "priced", "priced_resolved", "resolved", "known",
        "thumbs_up", "rated")  # fmt: skip


@dataclass(frozen=True)
class DataRange:
    """What the store holds: its first and last day, its volume, and its routers (the most recent first)."""

    first_day: date | None
    last_day: date | None
    requests: int
    routers: tuple[str, ...]


def data_range(store: Store) -> DataRange:
    """The days and routers the store has traffic for."""
    row = store.query_df(query("data_range").text).iloc[0]
    if not row["requests"]:
        return DataRange(None, None, 0, ())
    return DataRange(
        pd.Timestamp(row["first_day"]).date(),
        pd.Timestamp(row["last_day"]).date(),
        int(row["requests"]),
        tuple(row["routers"]),
    )


def daily_sums(
    store: Store, since: datetime, until: datetime, where: dict[str, str] | None = None, cheap_route: str = "cheap"
) -> pd.DataFrame:
    """One row per day of [since, until) with the sums every KPI is made of (whole UTC days, rollup filters)."""
    rendered = render([], where or {}, rollup=True)
    frame = store.query_df(
        fill(query("overview_daily"), rendered),
        {"since_day": since.date(), "until_day": until.date(), "cheap_route": cheap_route, **rendered.params},
        settings=COLUMNS_FIRST,
    )
    frame["day"] = pd.to_datetime(frame["day"])
    for column in SUMS:
        frame[column] = pd.to_numeric(frame.get(column), errors="coerce").fillna(0.0)
    frame["latency_hist"] = frame["latency_hist"].map(lambda h: h if isinstance(h, dict) else {})
    return frame.sort_values("day", ignore_index=True)


def _value(frame: pd.DataFrame, kpi: Kpi) -> float:
    if kpi.numerator == "latency_hist":
        return histogram_quantile(merge_histograms(frame["latency_hist"]), 0.95)
    top = float(frame[kpi.numerator].sum())
    if kpi.denominator is None:
        return top
    bottom = float(frame[kpi.denominator].sum())
    return top / bottom if bottom else np.nan


def _naive(moment: datetime) -> pd.Timestamp:
    """A UTC datetime as the naive timestamp of the ``day`` column of ``daily_sums``."""
    return pd.Timestamp(moment).tz_convert("UTC").tz_localize(None)


def daily_kpis(sums: pd.DataFrame, since: datetime | None = None) -> pd.DataFrame:
    """Every KPI per day (for the trend lines), from ``since`` on if given."""
    if since is not None:
        sums = sums[sums["day"] >= _naive(since)]
    rows = [{"day": day, **{k.name: _value(group, k) for k in KPIS}} for day, group in sums.groupby("day")]
    return pd.DataFrame(rows, columns=["day", *(k.name for k in KPIS)])


def period_kpis(sums: pd.DataFrame, since: datetime, until: datetime) -> pd.DataFrame:
    """Every KPI over [since, until) beside the same length of time before it, with the relative change."""
    length, start, days = until - since, _naive(since), sums["day"]
    current = sums[(days >= start) & (days < start + length)]
    previous = sums[(days >= start - length) & (days < start)]
    rows = []
    for kpi in KPIS:
        now, before = _value(current, kpi), _value(previous, kpi)
        change = (now - before) / before if before and not np.isnan(before) and not np.isnan(now) else np.nan
        rows.append({"kpi": kpi.name, "label": kpi.label, "current": now, "previous": before, "change": change})
    return pd.DataFrame(rows)


def previous_start(since: datetime, until: datetime) -> datetime:
    """The start of the period of the same length just before [since, until)."""
    return since - (until - since)


def whole_days(first: date, last: date) -> tuple[datetime, datetime]:
    """[first 00:00, last + 1 day 00:00) in UTC."""
    return (
        datetime.combine(first, time(), tzinfo=UTC),
        datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC),
    )


def cost_quality(cost: pd.DataFrame, quality: pd.DataFrame, dimension: str) -> pd.DataFrame:
    """Cost per resolved request beside the resolution rate, per value of ``dimension``.

    ``cost`` and ``quality`` are the ``cost_per_resolved`` and ``resolution_rate`` metrics cut by ``dimension``
    and possibly finer (their counts add up), so one pair of queries serves several dimensions.
    """
    money = cost.groupby(dimension)
    counts = money[["requests", "resolved", "priced", "priced_resolved"]].sum()
    sums = counts.join(money[["cost_usd", "model_cost_usd"]].sum().astype(float))
    outcomes = quality.groupby(dimension)[["resolved", "known"]].sum()
    table = pd.DataFrame(
        {
            "requests": sums["requests"],
            "cost_usd": sums["cost_usd"],
            "resolved": sums["resolved"],
            "unpriced": sums["requests"] - sums["priced"],
            "cost_per_resolved": sums["cost_usd"] / sums["priced_resolved"].where(sums["priced_resolved"] > 0),
            "cost_per_request": sums["model_cost_usd"] / sums["priced"].where(sums["priced"] > 0),
            "resolution_rate": outcomes["resolved"] / outcomes["known"].where(outcomes["known"] > 0),
        }
    )
    return table.reset_index()

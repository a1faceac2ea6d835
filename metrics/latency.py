"""Latency from the rollups' log-scale histograms: quantiles and distributions at any cut, in milliseconds.

The rollups keep, per day and cut, how many requests fell in each bin ``round(40 * log1p(ms))``. A bin spans
2.5% of its value, so a quantile read from it is within about 1.3% of the exact one, deterministic, and costs
a scan of the rollup instead of the requests. The exact quantiles stay in the ``latency`` metric.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from metrics.dimensions import COLUMNS_FIRST, DimensionError, answers_from_rollup, fill, render
from routewatch.sqlfiles import query
from routewatch.store import Store

BINS_PER_E = 40  # sql/schema/001_core.sql: round(40 * log1p(latency_ms))
RELATIVE_ERROR = math.expm1(0.5 / BINS_PER_E)  # half a bin, about 1.26%
QUANTILES = {"p50_ms": 0.5, "p95_ms": 0.95, "p99_ms": 0.99}
# What the daily rollup keeps a histogram of: end-to-end latency, time to first token, the router's own latency.
MEASURES = {"latency": "latency_hist", "ttft": "ttft_hist", "router_latency": "router_latency_hist"}


def bin_value(index: int | np.ndarray) -> float | np.ndarray:
    """The latency in ms at the centre of a histogram bin."""
    return np.expm1(np.asarray(index, dtype=float) / BINS_PER_E)


def merge_histograms(hists: Iterable[Mapping[int, int]]) -> dict[int, int]:
    """The sum of several histograms (bin -> count), e.g. of the days of a period."""
    merged: dict[int, int] = {}
    for hist in hists:
        for k, v in hist.items():
            merged[int(k)] = merged.get(int(k), 0) + int(v)
    return merged


def histogram_quantile(hist: Mapping[int, int], q: float) -> float:
    """The ``q`` quantile of a histogram (bin -> count), or NaN when it is empty."""
    bins = np.array(sorted(int(k) for k, v in hist.items() if v > 0))
    if not len(bins):
        return math.nan
    counts = np.array([hist[b] for b in bins], dtype=float)
    cumulative = np.cumsum(counts)
    rank = q * cumulative[-1]
    return float(bin_value(bins[min(int(np.searchsorted(cumulative, rank)), len(bins) - 1)]))


def quantiles(hist: Mapping[int, int]) -> dict[str, float]:
    """p50, p95 and p99 of a histogram."""
    return {name: histogram_quantile(hist, q) for name, q in QUANTILES.items()}


def histograms(
    store: Store,
    *,
    by: list[str] | None = None,
    since: datetime,
    until: datetime,
    where: dict[str, str] | None = None,
    bucket: str | None = None,
    measure: str = "latency",
) -> pd.DataFrame:
    """Histograms of a ``measure`` (see ``MEASURES``) from rollup_daily, one per bucket (day or week) and cut:
    requests, timed (requests that report the measure) and latency_hist.

    ``since`` and ``until`` are whole UTC days; dimensions and filters must be ones the rollup keeps.
    """
    by, where = by or [], where or {}
    if not answers_from_rollup(by, where, bucket):
        raise DimensionError("latency histograms need rollup dimensions and a day or week bucket")
    if measure not in MEASURES:
        raise DimensionError(f"unknown measure {measure!r}: use one of {', '.join(MEASURES)}")
    rendered = render(by, where, bucket, rollup=True)
    params = {"since_day": since.date(), "until_day": until.date(), **rendered.params}
    sql = fill(query("latency_histograms"), rendered, histogram=MEASURES[measure])
    frame = store.query_df(sql, params, settings=COLUMNS_FIRST)
    frame["timed"] = frame["latency_hist"].map(lambda h: sum(v for v in h.values() if v > 0))
    frame = frame[frame["timed"] > 0].reset_index(drop=True)
    keys = [*(["bucket"] if bucket else []), *by]
    return frame.sort_values(keys, ignore_index=True) if keys else frame


def quantile_table(store: Store, *, measure: str = "latency", **cut: Any) -> pd.DataFrame:
    """p50, p95 and p99 of a ``measure`` per cut of ``histograms`` (same arguments); the router's latency comes
    with its spend, router_cost_usd, since together they are what routing itself costs."""
    table = with_quantiles(histograms(store, measure=measure, **cut))
    return table if measure == "router_latency" else table.drop(columns="router_cost_usd")


def with_quantiles(frame: pd.DataFrame) -> pd.DataFrame:
    """A histogram frame with p50_ms, p95_ms and p99_ms columns instead of its histograms."""
    values = pd.DataFrame([quantiles(h) for h in frame["latency_hist"]], index=frame.index)
    return pd.concat([frame.drop(columns="latency_hist"), values], axis=1)


def distribution(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Histograms as long rows (cut..., latency_ms, share) for plotting, each cut's shares summing to 1."""
    rows: list[dict[str, object]] = []
    for values, group in frame.groupby(by) if by else [((), frame)]:
        merged = merge_histograms(group["latency_hist"])
        total = sum(v for v in merged.values() if v > 0)
        keys = dict(zip(by, values if isinstance(values, tuple) else (values,), strict=True))
        rows.extend(
            {**keys, "latency_ms": float(bin_value(k)), "share": v / total} for k, v in sorted(merged.items()) if v > 0
        )
    return pd.DataFrame(rows, columns=[*by, "latency_ms", "share"])

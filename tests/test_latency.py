"""Quantiles read from the rollup's log histograms, against numpy on the same rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

from metrics.dimensions import DimensionError
from metrics.latency import RELATIVE_ERROR, distribution, histogram_quantile, histograms, with_quantiles

WINDOW = {"since": datetime(2026, 10, 1, tzinfo=UTC), "until": datetime(2026, 11, 2, tzinfo=UTC)}


def test_a_histogram_quantile_is_within_half_a_bin_of_the_exact_one() -> None:
    rng = np.random.default_rng(5)
    values = rng.lognormal(6.5, 0.8, 20_000)
    bins, counts = np.unique(np.round(40 * np.log1p(values)).astype(int), return_counts=True)
    hist = dict(zip(bins.tolist(), counts.tolist(), strict=True))
    for q in (0.5, 0.95, 0.99):
        exact = float(np.quantile(values, q, method="inverted_cdf"))
        assert abs(histogram_quantile(hist, q) / exact - 1) <= RELATIVE_ERROR * 1.01, q
    assert np.isnan(histogram_quantile({}, 0.5))


def test_rollup_quantiles_match_numpy_by_route(synthetic_store: tuple[Any, pd.DataFrame]) -> None:
    store, frame = synthetic_store
    got = with_quantiles(histograms(store, by=["route"], **WINDOW)).set_index("route")
    for route, rows in frame.groupby("route"):
        assert got.loc[route, "requests"] == len(rows)
        for column, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)):
            exact = float(np.quantile(rows["latency_ms"], q, method="inverted_cdf"))
            assert abs(got.loc[route, column] / exact - 1) <= RELATIVE_ERROR * 1.01, (route, column)


def test_daily_buckets_and_filters_add_up(synthetic_store: tuple[Any, pd.DataFrame]) -> None:
    store, frame = synthetic_store
    daily = histograms(store, by=["escalated"], bucket="day", where={"channel": "chat"}, **WINDOW)
    chat = frame[frame["channel"] == "chat"]
    assert daily["requests"].sum() == len(chat)
    assert daily["bucket"].nunique() == chat["ts"].dt.floor("D").nunique()
    shares = distribution(daily, ["escalated"])
    assert np.allclose(shares.groupby("escalated")["share"].sum(), 1.0)


def test_a_dimension_the_rollup_lacks_is_refused(synthetic_store: tuple[Any, pd.DataFrame]) -> None:
    store, _ = synthetic_store
    with pytest.raises(DimensionError):
        histograms(store, by=["account_id"], **WINDOW)

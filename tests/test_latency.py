"""Quantiles read from the rollup's log histograms, against numpy on the same rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

from metrics.dimensions import DimensionError
from metrics.latency import RELATIVE_ERROR, distribution, histogram_quantile, histograms, quantile_table

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


@pytest.mark.parametrize(
    ("measure", "column", "by"),
    [
        ("latency", "latency_ms", "route"),
        ("ttft", "ttft_ms", "route"),
        ("router_latency", "router_latency_ms", "router"),
    ],
)
def test_rollup_quantiles_match_numpy(
    synthetic_store: tuple[Any, pd.DataFrame], measure: str, column: str, by: str
) -> None:
    store, frame = synthetic_store
    got = quantile_table(store, by=[by], measure=measure, **WINDOW).set_index(by)
    assert ("router_cost_usd" in got) == (measure == "router_latency")  # the router's spend beside its latency
    timed = frame.dropna(subset=[column])
    assert sorted(got.index) == sorted(timed[by].unique())
    for key, rows in timed.groupby(by):
        assert got.loc[key, "requests"] == (frame[by] == key).sum()
        assert got.loc[key, "timed"] == len(rows)
        for name, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)):
            exact = float(np.quantile(rows[column], q, method="inverted_cdf"))
            # half a bin of log1p: RELATIVE_ERROR of 1 + the value (of the value itself, for values far above 1 ms)
            assert abs(got.loc[key, name] - exact) <= RELATIVE_ERROR * (1 + exact) * 1.01, (key, name)


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
    with pytest.raises(DimensionError, match="unknown measure"):
        histograms(store, by=["route"], measure="cost; DROP TABLE requests", **WINDOW)

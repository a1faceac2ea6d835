"""The overview's headline numbers and the escalation double-pay, against pandas on the same rows."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

from metrics.costs import escalation_double_pay, spend_concentration, top_share
from metrics.health import freshness, ingest_batches, quarantine_reasons
from metrics.overview import KPIS, daily_kpis, daily_sums, data_range, period_kpis, previous_start


def _kpis(rows: pd.DataFrame) -> dict[str, float]:
    resolved = rows["resolved"].map(lambda v: v is True)
    all_in = rows["cost_usd"] + rows["router_cost_usd"] + rows["human_cost_usd"]
    return {
        "requests": len(rows),
        "cost_per_resolved": all_in.sum() / resolved.sum(),
        "cost_per_request": rows["cost_usd"].sum() / len(rows),
        "escalation_rate": rows["escalated"].mean(),
        "resolution_rate": resolved.sum() / rows["resolved"].notna().sum(),
        "thumbs_up_rate": (rows["thumb"] == 1).sum() / rows["thumb"].notna().sum(),
        "error_rate": (rows["status"] == "error").mean(),
        "cheap_share": (rows["final_route"] == "cheap").mean(),
        "p95_ms": float(np.quantile(rows["latency_ms"], 0.95, method="inverted_cdf")),
    }


def test_period_kpis_match_pandas(synthetic_store: tuple[Any, pd.DataFrame]) -> None:
    store, frame = synthetic_store
    span = data_range(store)
    assert span.requests == len(frame)
    assert span.routers[0] == "bert-router@v7"  # the most recent first
    since, until = datetime(2026, 10, 18, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
    sums = daily_sums(store, previous_start(since, until), until, where={"tier": "pro"})
    table = period_kpis(sums, since, until).set_index("kpi")
    pro = frame[frame["tier"] == "pro"]
    current = _kpis(pro[(pro["ts"] >= pd.Timestamp(since)) & (pro["ts"] < pd.Timestamp(until))])
    before = _kpis(pro[(pro["ts"] >= pd.Timestamp(previous_start(since, until))) & (pro["ts"] < pd.Timestamp(since))])
    for kpi in KPIS:
        tolerance = 0.013 if kpi.name == "p95_ms" else 1e-9  # p95 from the rollup's histogram
        assert table.loc[kpi.name, "current"] == pytest.approx(current[kpi.name], rel=tolerance), kpi.name
        assert table.loc[kpi.name, "previous"] == pytest.approx(before[kpi.name], rel=tolerance), kpi.name
    assert table.loc["requests", "change"] == pytest.approx(current["requests"] / before["requests"] - 1)
    daily = daily_kpis(sums)
    assert daily["requests"].sum() == len(pro[pro["ts"] >= pd.Timestamp(previous_start(since, until))])
    assert daily_kpis(sums, since)["requests"].sum() == table.loc["requests", "current"]


def test_double_pay_matches_pandas(synthetic_store: tuple[Any, pd.DataFrame]) -> None:
    store, frame = synthetic_store
    window = {"since": datetime(2026, 10, 1, tzinfo=UTC), "until": datetime(2026, 11, 2, tzinfo=UTC)}
    got = escalation_double_pay(store, **window).set_index("final_route")
    for route, rows in frame.groupby("final_route"):
        escalated, direct = rows[rows["escalated"]], rows[~rows["escalated"]]
        if escalated.empty:
            assert route not in got.index
            continue
        extra = escalated["cost_usd"].mean() - direct["cost_usd"].mean()
        assert got.loc[route, "escalated"] == len(escalated)
        assert got.loc[route, "double_paid_usd"] == pytest.approx(max(extra, 0) * len(escalated), rel=1e-9)
    assert got["double_paid_usd"].sum() > 0  # the planted story: escalations pay for two calls


def test_spend_concentration_from_the_rollup_is_within_a_bin_of_numpy(
    synthetic_store: tuple[Any, pd.DataFrame],
) -> None:
    store, frame = synthetic_store
    window = {"since": datetime(2026, 10, 1, tzinfo=UTC), "until": datetime(2026, 11, 2, tzinfo=UTC)}
    got = spend_concentration(store, by=["route"], **window).set_index("route")
    all_in = frame.assign(all_in=frame["cost_usd"] + frame["router_cost_usd"] + frame["human_cost_usd"])
    for route, rows in all_in.groupby("route"):
        costs = rows["all_in"].to_numpy()
        top = np.sort(costs)[::-1][: math.ceil(len(costs) / 100)].sum()
        assert got.loc[route, "requests"] == len(rows)
        assert got.loc[route, "cost_usd"] == pytest.approx(costs.sum(), rel=1e-9)
        assert got.loc[route, "top_1pct_cost_usd"] == pytest.approx(top, rel=0.025)
        assert got.loc[route, "top_1pct_share"] == pytest.approx(top / costs.sum(), rel=0.025)


def test_top_share_takes_whole_bins_then_the_mean_of_the_cut_one() -> None:
    counts, nanousd = {10: 90, 20: 8, 30: 2}, {10: 90 * 10**9, 20: 8 * 2 * 10**9, 30: 2 * 5 * 10**9}
    assert top_share(counts, nanousd, share=0.02) == pytest.approx(10.0)  # the two requests of bin 30
    assert top_share(counts, nanousd, share=0.05) == pytest.approx(10.0 + 3 * 2.0)  # and three of bin 20
    assert top_share(counts, nanousd, share=1.0) == pytest.approx(90 + 16 + 10)
    assert top_share({}, {}) == 0.0


def test_health_reports_what_was_loaded(synthetic_store: tuple[Any, pd.DataFrame]) -> None:
    store, frame = synthetic_store
    batches = ingest_batches(store)
    assert batches["rows_loaded"].sum() == len(frame)
    assert quarantine_reasons(store).empty
    fresh = freshness(store)
    assert int(fresh["requests"]) == len(frame)
    assert pd.Timestamp(fresh["newest_request"]).tz_localize("UTC") == frame["ts"].max()


def test_cost_quality_from_a_finer_cut_equals_the_direct_one(synthetic_store: tuple[Any, pd.DataFrame]) -> None:
    from metrics.overview import cost_quality
    from metrics.registry import compute

    store, _ = synthetic_store
    cost = compute(store, "cost_per_resolved", by=["route", "router"])
    quality = compute(store, "resolution_rate", by=["route", "router"])
    got = cost_quality(cost, quality, "route").set_index("route")
    direct = compute(store, "cost_per_resolved", by=["route"]).set_index("route")
    rates = compute(store, "resolution_rate", by=["route"]).set_index("route")
    for column in ("requests", "resolved", "cost_per_resolved", "cost_per_request"):
        assert np.allclose(got[column].astype(float), direct[column].astype(float), rtol=1e-9), column
    assert np.allclose(got["resolution_rate"], rates["resolution_rate"], rtol=1e-9)

"""The synthetic traffic plays its stories with the planted truth it documents."""

from __future__ import annotations

import pandas as pd
import pytest

from ingest import synthetic


@pytest.fixture(scope="module")
def traffic() -> pd.DataFrame:
    return synthetic.generate(200_000, seed=42)


def test_same_seed_same_traffic() -> None:
    a, b = synthetic.generate(2_000, seed=9), synthetic.generate(2_000, seed=9)
    pd.testing.assert_frame_equal(a, b)
    assert not synthetic.generate(2_000, seed=10)["latency_ms"].equals(a["latency_ms"])


def test_hindi_is_escalated_at_half_the_rate_within_every_task(traffic: pd.DataFrame) -> None:
    eligible = traffic[(traffic["route"] != "frontier") & (traffic["account_id"] != synthetic.BULK_ACCOUNT)]
    rates = eligible.groupby(["task_type", "language"])["escalated"].mean().unstack()
    ratio = (rates["hi"] / rates["en"]).to_numpy()
    assert ((ratio > 0.4) & (ratio < 0.6)).all(), ratio
    resolved = traffic.dropna(subset=["resolved"]).groupby("language")["resolved"].mean()
    assert resolved["en"] - resolved["hi"] > 0.08


def test_simpson_raw_gap_and_within_task_gap_point_opposite_ways(traffic: pd.DataFrame) -> None:
    eligible = traffic[traffic["route"] != "frontier"]
    raw = eligible.groupby("language")["escalated"].mean()
    assert raw["de"] > raw["en"]  # German speakers look over-escalated ...
    within = eligible.groupby(["task_type", "language"])["escalated"].mean().unstack()
    hard = within.loc[["code", "math"]]
    assert (hard["de"] < hard["en"]).all()  # ... yet are escalated less for the same task


def test_bulk_account_is_routed_cheap_and_fails(traffic: pd.DataFrame) -> None:
    bulk = traffic[traffic["account_id"] == synthetic.BULK_ACCOUNT]
    assert len(bulk) > 0.03 * len(traffic)
    assert (bulk["route"] == "cheap").mean() > 0.9
    assert (bulk["status"] == "error").mean() > 0.08
    assert (bulk["channel"] == "api").all()


def test_escalations_double_pay_and_stretch_the_tail(traffic: pd.DataFrame) -> None:
    cheap = traffic[traffic["route"] == "cheap"]
    escalated, direct = cheap[cheap["escalated"]], cheap[~cheap["escalated"]]
    assert escalated["latency_ms"].quantile(0.95) > 1.5 * direct["latency_ms"].quantile(0.95)
    two_calls = escalated["calls"].map(lambda calls: sum(c["cost_usd"] for c in calls))
    assert (abs(two_calls - escalated["cost_usd"]) < 1e-6).all()


def test_cheap_share_creeps_up_after_the_router_change(traffic: pd.DataFrame) -> None:
    share = traffic.assign(cheap=traffic["route"] == "cheap").groupby("router")["cheap"].mean()
    assert share["bert-router@v7"] > share["bert-router@v6"] + 0.08

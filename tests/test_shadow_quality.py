"""The quality of a shadow router's disagreements against pandas and statsmodels on the same rows, on synthetic
traffic whose shadow candidate sends every Spanish request to the cheap route."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from ingest import synthetic
from metrics.gaps import GapSettings
from metrics.shadow_quality import OVERALL, enough_words, findings, shadow_quality
from routewatch.store import Store
from tests.conftest import cli_json

ORDER = {"cheap": 1, "mid": 2, "frontier": 3}


def _sides(frame: pd.DataFrame, direction: str) -> pd.DataFrame:
    """Independently: the disagreements of one direction (agree = 0) and the agreements on the routes they target
    (agree = 1), among requests with a known outcome, with y = resolved and the stratum (shadow route, task)."""
    rows = frame[frame["shadow_route"].isin(list(ORDER)) & frame["resolved"].notna()].copy()
    live, shadow = rows["route"].map(ORDER), rows["shadow_route"].map(ORDER)
    disagree = rows[(shadow < live) if direction == "cheaper" else (shadow > live)]
    agree = rows[(shadow == live) & rows["shadow_route"].isin(set(disagree["shadow_route"]))]
    both = pd.concat([disagree.assign(agree=0), agree.assign(agree=1)], ignore_index=True)
    return both.assign(y=both["resolved"].astype(bool).astype(int), stratum=both["shadow_route"] + both["task_type"])


def _standardized(sides: pd.DataFrame) -> float:
    """Direct standardization to the disagreements' mix of strata (those both sides have)."""
    rates = sides.groupby(["stratum", "agree"])["y"].agg(["mean", "size"]).unstack("agree").dropna()
    weights = rates[("size", 0)] / rates[("size", 0)].sum()
    return float((weights * (rates[("mean", 1)] - rates[("mean", 0)])).sum())


def test_the_candidate_that_moves_spanish_to_the_cheap_route(planted_store: tuple[Store, pd.DataFrame]) -> None:
    store, frame = planted_store
    quality = shadow_quality(store, "language")
    table = quality.table.set_index(["segment", "direction", "metric"])
    spanish = frame[frame["language"] == synthetic.SHADOW_CHEAP_LANGUAGE]
    sides = _sides(spanish, "cheaper")
    row = table.loc[("es", "cheaper", "resolution_rate")]
    assert row["disagreed_value"] == pytest.approx(sides.loc[sides["agree"] == 0, "y"].mean(), rel=1e-12)
    assert row["agreed_value"] == pytest.approx(sides.loc[sides["agree"] == 1, "y"].mean(), rel=1e-12)
    assert row["adjusted_gap"] == pytest.approx(_standardized(sides), rel=1e-9)
    assert row["status"] == "confirmed" and row["adjusted_gap"] < -0.1 and row["enough"]
    # The interval against statsmodels: a linear probability model with errors clustered by user has the raw gap
    # as its coefficient; its interval counts the covariance of a user's two sides, which ours leaves out.
    fit = smf.ols("y ~ agree", data=sides).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(sides["user_id"])[0]}
    )
    assert row["gap"] == pytest.approx(fit.params["agree"], rel=1e-9)
    low, high = fit.conf_int().loc["agree"]
    ratio = (row["ci_high"] - row["ci_low"]) / (high - low)
    print(f"interval width against statsmodels' clustered OLS: {ratio:.3f}")
    assert 0.95 < ratio < 1.1  # README: from 1.5% narrower to 6% wider
    # Only Spanish requests are sent to a cheaper route: no other language has a cheaper side.
    cheaper = quality.table[quality.table["direction"] == "cheaper"]
    assert set(cheaper["segment"]) == {OVERALL, "es"}
    assert any(sentence.startswith("es: the shadow router would send") for sentence in findings(quality))


def test_dearer_choices_and_the_days_behind_them(planted_store: tuple[Store, pd.DataFrame]) -> None:
    store, frame = planted_store
    quality = shadow_quality(store, "language")
    sides = _sides(frame, "dearer")
    row = quality.table.set_index(["segment", "direction", "metric"]).loc[(OVERALL, "dearer", "resolution_rate")]
    assert row["disagreed"] == int(
        (frame["shadow_route"].map(ORDER) > frame["route"].map(ORDER)).sum()
    )  # every dearer disagreement, known outcome or not
    assert row["adjusted_gap"] == pytest.approx(_standardized(sides), rel=1e-9)
    assert row["adjusted_gap"] > 0  # the dearer route the shadow asks for resolves more
    shadowed = pd.to_datetime(frame.loc[frame["shadow_route"] != "", "ts"], utc=True, format="ISO8601")
    assert quality.days == shadowed.dt.date.nunique()
    assert f"rests on {quality.days} days" in enough_words(quality)
    undecided = quality.table[~quality.table["enough"]]
    assert set(undecided["status"]) <= {"insufficient_data", "underpowered", "model_failed"}
    assert (quality.table[quality.table["status"] == "underpowered"]["more_days"] >= 1).all()
    small = quality.table[quality.table["status"] == "insufficient_data"]
    assert len(small) and (small["more_days"] >= 1).all()  # how long until a too-small comparison can be tested
    assert f"{len(small)} too small to test at all, about {int(small['more_days'].max()):,} more days" in enough_words(
        quality
    )


def test_days_until_a_too_small_comparison_passes_the_gates() -> None:
    from metrics.shadow_quality import _days_to_the_gates

    settings = GapSettings()
    rows = [("disagree", f"d{i}", 2) for i in range(10)] + [("agree", f"a{i}", 3) for i in range(400)]
    cells = pd.DataFrame(rows, columns=["segment", "user_id", "known"])
    # the disagreements have 20 outcomes from 10 users; 14 days of them
    wanted = 14 * (max(settings.min_requests / 20, settings.min_users / 10) - 1)
    assert _days_to_the_gates(cells, "resolution_rate", 14, settings) == pytest.approx(wanted)
    assert np.isnan(_days_to_the_gates(cells.assign(known=1000), "resolution_rate", 14, replace(settings, min_users=1)))


def test_no_shadow_route_no_rows(planted_store: tuple[Store, pd.DataFrame]) -> None:
    store, _ = planted_store
    quality = shadow_quality(store, "language", where={"language": "xx"})
    assert quality.table.empty and quality.days == 0 and findings(quality) == []


def test_the_demo_plants_the_candidate(demo_store: Store) -> None:
    quality = shadow_quality(demo_store, "language")
    lost = {(r.segment, r.metric) for r in quality.table.itertuples() if r.status == "confirmed" and r.adjusted_gap < 0}
    assert ("es", "resolution_rate") in lost
    assert not {segment for segment, _ in lost} - {"es", OVERALL}
    assert np.isfinite(quality.table["adjusted_gap"]).any()
    assert cli_json("metrics", "shadow_divergence", "--by", "language", "--format", "json", store=demo_store)

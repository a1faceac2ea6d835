"""Segment-gap statistics: golden values, the Simpson, masked-gap and heavy-account fixtures, simulations."""

from __future__ import annotations

import json
import math
from dataclasses import astuple
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq
from statsmodels.stats import proportion
from statsmodels.stats.power import NormalIndPower

from ingest.load import ingest
from ingest.synthetic import generate, write_jsonl
from metrics.gaps import (
    COLUMNS,
    GAP_ROW_FIELDS,
    STATUS_WORDS,
    GapSettings,
    Status,
    cluster_counts,
    detectable_effect,
    gap_table,
    gap_table_from_cells,
    load_cells,
    pooled_design_effect,
    score_interval,
    score_test,
    segment_moments,
    traffic_to_decide,
)
from routewatch.store import Store
from tests.conftest import run_cli

REF = GapSettings(reference={"d": "ref"})
# For calibration: a margin wide enough that no contrast is underpowered, so that every one is tested.
WIDE = GapSettings(
    reference={"d": "s0"},
    delta=dict.fromkeys(["escalation_rate", "error_rate", "resolution_rate", "thumbs_up_rate"], 0.08),
)


def _cells(
    rng: np.random.Generator,
    segment: str,
    users: int,
    task_mix: dict[str, float],
    rates: dict[str, float],
    per_user: int = 20,
    spread: float = 0.0,
) -> pd.DataFrame:
    """One row per (user, task): escalations drawn at the task's rate, shifted per user by ``spread`` (clustering)."""
    rows = []
    for user in range(users):
        shift = rng.normal(0, spread)
        for task, share in task_mix.items():
            n = int(rng.binomial(per_user, share))
            if n == 0:
                continue
            p = float(np.clip(rates[task] + shift, 0.001, 0.999))
            k = int(rng.binomial(n, p))
            rows.append(
                {
                    "segment": segment,
                    "task_type": task,
                    "user_id": f"{segment}-{user}",
                    "requests": n,
                    "escalated": k,
                    "errors": int(rng.binomial(n, 0.05)),
                    "known": n,
                    "resolved": int(rng.binomial(n, 0.7)),
                    "rated": n,
                    "thumbs_up": int(rng.binomial(n, 0.8)),
                }
            )
    return pd.DataFrame(rows)


def _escalation(table: pd.DataFrame, segment: str) -> pd.Series:
    return table[(table["segment"] == segment) & (table["metric"] == "escalation_rate")].iloc[0]


def test_simpson_fixture_is_labelled_a_reversal_not_over_escalation() -> None:
    rng = np.random.default_rng(1)
    english = _cells(rng, "en", 3000, {"easy": 0.8, "hard": 0.2}, {"easy": 0.10, "hard": 0.50})
    non_native = _cells(rng, "non_native", 3000, {"easy": 0.4, "hard": 0.6}, {"easy": 0.08, "hard": 0.45})
    table = gap_table_from_cells(
        {"language": pd.concat([english, non_native])}, GapSettings(reference={"language": "en"})
    )
    row = _escalation(table, "non_native")
    assert row["gap"] == pytest.approx(0.302 - 0.18, abs=0.01)  # raw: non-natives look over-escalated
    assert row["adjusted_gap"] == pytest.approx(-0.026, abs=0.006)  # within every task they are escalated less
    assert row["status"] == Status.CONFIRMED and row["note"].startswith("reversal")


def test_masked_gap_is_found() -> None:
    rng = np.random.default_rng(2)
    reference = _cells(rng, "ref", 2000, {"easy": 0.5, "hard": 0.5}, {"easy": 0.10, "hard": 0.40})
    # Escalated 6 points less within each task, but asking hard questions more: the raw rates look alike.
    segment = _cells(rng, "seg", 2000, {"easy": 0.3, "hard": 0.7}, {"easy": 0.04, "hard": 0.34})
    row = _escalation(gap_table_from_cells({"d": pd.concat([reference, segment])}, REF), "seg")
    assert abs(row["gap"]) < 0.02 and row["adjusted_gap"] < -0.05
    assert row["status"] == Status.CONFIRMED and row["note"].startswith("masked gap")


def test_a_heavy_single_account_does_not_alert() -> None:
    rng = np.random.default_rng(3)
    reference = _cells(rng, "chat", 1500, {"t": 1.0}, {"t": 0.15})
    scripts = _cells(rng, "api", 40, {"t": 1.0}, {"t": 0.15}, per_user=10)
    heavy = [
        _cells(rng, "api", 1, {"t": 1.0}, {"t": rate}, per_user=8_000).assign(user_id=f"api-heavy-{i}")
        for i, rate in enumerate((0.01, 0.12, 0.02))
    ]
    settings = GapSettings(reference={"channel": "chat"})
    row = _escalation(gap_table_from_cells({"channel": pd.concat([reference, scripts, *heavy])}, settings), "api")
    assert row["gap"] < -0.05  # the raw rate is far lower ...
    assert row["deff"] > 20  # ... but three accounts do the talking
    # 43 users, but about three effective ones: too few independent units to test at all (a gate on n only).
    assert row["status"] == Status.INSUFFICIENT_DATA
    assert "3.1 effective ones" in row["note"] and row["users"] == 43


def test_gates_depend_on_counts_only() -> None:
    rng = np.random.default_rng(4)
    reference = _cells(rng, "big", 500, {"t": 1.0}, {"t": 0.2})
    small = _cells(rng, "small", 10, {"t": 1.0}, {"t": 0.2})
    flipped = small.assign(escalated=small["requests"] - small["escalated"])  # the opposite outcomes, same n
    for cells in (small, flipped):
        row = _escalation(gap_table_from_cells({"d": pd.concat([reference, cells])}, GapSettings()), "small")
        assert row["status"] == Status.INSUFFICIENT_DATA


def test_golden_values_match_direct_statsmodels_calls() -> None:
    rng = np.random.default_rng(5)
    reference = _cells(rng, "ref", 800, {"t": 1.0}, {"t": 0.20}, spread=0.05)
    segment = _cells(rng, "seg", 600, {"t": 1.0}, {"t": 0.14}, spread=0.05)
    row = _escalation(gap_table_from_cells({"d": pd.concat([reference, segment])}, REF), "seg")

    def effective(cells: pd.DataFrame) -> tuple[float, float, float]:
        k, n = cells["escalated"].to_numpy(float), cells["requests"].to_numpy(float)
        p, m = k.sum() / n.sum(), len(k)
        v_cluster = m / (m - 1) * ((k - p * n) ** 2).sum() / n.sum() ** 2
        deff = max(1.0, v_cluster / (p * (1 - p) / n.sum()))
        return p * n.sum() / deff, n.sum() / deff, deff

    k1, n1, deff1 = effective(segment)
    k0, n0, _ = effective(reference)
    direct = proportion.test_proportions_2indep(k1, n1, k0, n0, method="score", compare="diff", correction=True)
    assert row["p_value"] == pytest.approx(direct.pvalue, rel=1e-9)
    assert row["gap"] == pytest.approx(k1 / n1 - k0 / n0, rel=1e-9)
    moments = segment_moments(segment.set_index(["segment", "user_id"]).drop(columns="task_type")).loc["seg"]
    assert cluster_counts(moments, "escalated", "requests").deff == pytest.approx(deff1)
    assert deff1 > 1.2  # the per-user spread is a real cluster effect
    assert row["ci_low"] < row["gap"] < row["ci_high"] and row["ci_high"] < 0


@pytest.mark.slow
def test_no_gap_calibration_by_simulation() -> None:
    """Clustered traffic with no gap: the raw test keeps its level and BH keeps alerts rare."""
    runs, any_confirmed, raw_rejections, raw_tests = 60, 0, 0, 0
    for seed in range(runs):
        rng = np.random.default_rng(1000 + seed)
        cells = [
            _cells(rng, f"s{s}", 120 if s else 400, {"a": 0.6, "b": 0.4}, {"a": 0.15, "b": 0.35}, spread=0.08)
            for s in range(5)
        ]
        table = gap_table_from_cells({"d": pd.concat(cells)}, WIDE, metrics=["escalation_rate"])
        tested = table.dropna(subset=["p_value"])
        raw_rejections += int((tested["p_value"] < 0.05).sum())
        raw_tests += len(tested)
        any_confirmed += int((table["status"] == Status.CONFIRMED).any())
    # Monte Carlo margins: three standard errors above the nominal level.
    assert raw_tests >= 200
    assert raw_rejections / raw_tests < 0.05 + 3 * np.sqrt(0.05 * 0.95 / raw_tests)
    assert any_confirmed / runs < 0.05 + 3 * np.sqrt(0.05 * 0.95 / runs)


@pytest.mark.slow
def test_the_whole_family_keeps_the_false_discovery_rate_by_simulation() -> None:
    """Default margins, so that small segments could not detect a gap of the margin: they are in the family now
    (power labels a non-rejection only). With no gap anywhere, a false ``confirmed`` in a run stays as rare as BH
    promises (under the complete null the FDR is the chance of any)."""
    runs, any_confirmed, underpowered = 80, 0, 0
    for seed in range(runs):
        rng = np.random.default_rng(3000 + seed)
        cells = [
            _cells(rng, f"s{s}", 400 if s == 0 else 40 * s, {"a": 0.6, "b": 0.4}, {"a": 0.15, "b": 0.35}, spread=0.08)
            for s in range(5)
        ]
        table = gap_table_from_cells({"d": pd.concat(cells)}, GapSettings(reference={"d": "s0"}))
        assert table["p_adjusted"].notna().sum() == len(table) - (table["status"] == "insufficient_data").sum()
        any_confirmed += int((table["status"] == Status.CONFIRMED).any())
        underpowered += int((table["status"] == Status.UNDERPOWERED).sum())
    assert underpowered > 0  # small segments are labelled, not dropped
    assert any_confirmed / runs <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / runs)


@pytest.mark.slow
def test_a_gap_of_the_margin_in_a_small_segment_is_found_as_often_as_its_power_says() -> None:
    """A 2-point escalation gap (the margin) in 3,000 requests against 20,000: the score test rejects at the rate
    the normal power formula gives for these counts (one comparison, so BH leaves the level alone)."""
    runs, rejected, confirmed = 200, 0, 0
    n1, n0, p1, p0 = 3_000, 20_000, 0.13, 0.15
    for seed in range(runs):
        rng = np.random.default_rng(4000 + seed)
        reference = _cells(rng, "ref", 1000, {"t": 1.0}, {"t": p0})
        segment = _cells(rng, "seg", 150, {"t": 1.0}, {"t": p1})
        row = _escalation(gap_table_from_cells({"d": pd.concat([reference, segment])}, REF, ["escalation_rate"]), "seg")
        rejected += int(row["p_adjusted"] < 0.05)
        confirmed += int(row["status"] == Status.CONFIRMED)
        assert row["status"] != Status.UNDERPOWERED or row["p_adjusted"] >= 0.05
    se = np.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    z = NormalDist().inv_cdf(0.975)
    power = NormalDist().cdf(0.02 / se - z) + NormalDist().cdf(-0.02 / se - z)
    assert 0.4 < power < 0.9  # a segment where the question is open
    assert abs(rejected / runs - power) < 3 * np.sqrt(power * (1 - power) / runs) + 0.02
    # Confirming also needs the estimate past the margin, which a gap of exactly the margin reaches about half
    # the time.
    assert 0.25 * runs < confirmed <= rejected


@pytest.mark.slow
def test_a_planted_gap_is_found_by_simulation() -> None:
    found, runs = 0, 30
    for seed in range(runs):
        rng = np.random.default_rng(2000 + seed)
        reference = _cells(rng, "ref", 1600, {"a": 0.6, "b": 0.4}, {"a": 0.15, "b": 0.35}, spread=0.05)
        segment = _cells(rng, "seg", 800, {"a": 0.6, "b": 0.4}, {"a": 0.10, "b": 0.30}, spread=0.05)  # 5 points
        table = gap_table_from_cells({"d": pd.concat([reference, segment])}, REF)
        found += int(_escalation(table, "seg")["status"] == Status.CONFIRMED)
    assert found / runs >= 0.8


@pytest.mark.slow
def test_the_planted_stories_of_the_synthetic_traffic(tmp_path: Path) -> None:
    store = Store(f"chdb://{tmp_path / 'store'}")
    ingest(store, [str(write_jsonl(generate(250_000, seed=21), tmp_path / "traffic.jsonl"))])
    result = run_cli("gaps", "--by", "language,channel", "--format", "json", store=store)
    assert result.returncode == 0, result.stderr
    rows = pd.DataFrame(json.loads(result.stdout))
    assert set(COLUMNS) <= set(rows.columns)
    status = rows.set_index(["segment", "metric"])["status"]
    assert status[("hi", "escalation_rate")] == "confirmed"  # escalated at half the rate
    assert status[("hi", "thumbs_up_rate")] == "confirmed"  # and less satisfied
    assert status[("de", "escalation_rate")] != "confirmed"  # Simpson: more in aggregate, less per task
    # The bulk account's scripts ask easy extraction tasks: escalated less in aggregate, not within its tasks.
    assert status[("api", "escalation_rate")] == "explained_by_task_mix"


def _rated_cells(rng: np.random.Generator, segment: str, users: int, probabilities: list[float]) -> pd.DataFrame:
    """One rating per user (no clustering), drawn from ``probabilities`` over the levels 1..5."""
    ratings = rng.choice(5, users, p=probabilities)
    frame = pd.DataFrame({"segment": segment, "task_type": "t", "user_id": [f"{segment}-{u}" for u in range(users)]})
    for level in range(5):
        frame[f"csat_{level + 1}"] = (ratings == level).astype(int)
    frame["requests"], frame["priced"], frame["cost"], frame["cost_sq"], frame["cost_within"] = 1, 1, 0.01, 0.0001, 0.0
    for column in ("escalated", "errors", "known", "resolved", "rated", "thumbs_up"):
        frame[column] = 0
    return frame


def test_csat_is_compared_as_ordinal_with_direct_statsmodels_values() -> None:
    from statsmodels.stats.nonparametric import rank_compare_2ordinal

    rng = np.random.default_rng(7)
    reference = _rated_cells(rng, "ref", 1500, [0.05, 0.1, 0.2, 0.35, 0.3])
    segment = _rated_cells(rng, "seg", 800, [0.15, 0.2, 0.25, 0.25, 0.15])
    table = gap_table_from_cells({"d": pd.concat([reference, segment])}, REF, metrics=["csat"])
    row = table.iloc[0]
    levels = [f"csat_{level}" for level in range(1, 6)]
    direct = rank_compare_2ordinal(segment[levels].sum().to_numpy(), reference[levels].sum().to_numpy())
    assert row["gap"] == pytest.approx(direct.prob1 - 0.5, rel=1e-9)
    assert row["p_value"] == pytest.approx(direct.test_prob_superior(value=0.5).pvalue, rel=1e-6)
    assert row["status"] == Status.CONFIRMED and row["gap"] < -0.05


def test_cost_per_request_ratio_finds_a_planted_difference_and_not_a_null_one() -> None:
    rng = np.random.default_rng(8)

    def spend(segment: str, users: int, scale: float) -> pd.DataFrame:
        frame = _rated_cells(rng, segment, users, [0.2] * 5)
        frame["requests"] = frame["priced"] = rng.integers(5, 30, users)
        per_request = rng.lognormal(np.log(0.002 * scale), 0.6, users)  # each user's requests cost the same
        frame["cost"], frame["cost_sq"] = frame["requests"] * per_request, frame["requests"] * per_request**2
        frame["cost_within"] = frame["cost"] - frame["requests"] * frame["cost"].sum() / frame["requests"].sum()
        return frame

    base = spend("ref", 4000, 1.0)
    table = gap_table_from_cells(
        {"d": pd.concat([base, spend("dear", 2500, 1.3), spend("same", 2500, 1.0)])}, REF, metrics=["cost_per_request"]
    )
    status = table.set_index("segment")["status"]
    assert status["dear"] == Status.CONFIRMED
    assert status["same"] in (Status.EQUIVALENT, Status.NO_EVIDENCE)
    assert table.set_index("segment").loc["dear", "gap"] == pytest.approx(0.3, abs=0.1)


@pytest.mark.slow
def test_p95_bootstrap_keeps_its_level_and_finds_a_slower_tail() -> None:
    settings = GapSettings(reference={"d": "ref"}, bootstrap_samples=400, delta={"latency_p95": 0.3})
    false_alarms, runs = 0, 30
    for seed in range(runs):
        rng = np.random.default_rng(3000 + seed)
        frames = []
        for segment, scale, users in (("ref", 1.0, 400), ("same", 1.0, 300), ("slow", 1.5, 300)):
            user_speed = rng.lognormal(0, 0.2, users)  # users differ: latencies cluster
            per_user = rng.integers(5, 15, users)
            frames.append(
                pd.DataFrame(
                    {
                        "segment": segment,
                        "user_id": np.repeat([f"{segment}-{u}" for u in range(users)], per_user),
                        "latency_ms": np.repeat(user_speed * 800 * scale, per_user)
                        * rng.lognormal(0, 0.5, per_user.sum()),
                        "task_type": "t",
                    }
                )
            )
        latency = pd.concat(frames)
        cells = latency.groupby(["segment", "user_id"]).size().rename("requests").reset_index().assign(task_type="t")
        for column in (
            "escalated",
            "errors",
            "known",
            "resolved",
            "rated",
            "thumbs_up",
            "priced",
            "cost",
            "cost_sq",
            "cost_within",
        ):
            cells[column] = 0
        table = gap_table_from_cells({"d": cells}, settings, ["latency_p95"], {"d": latency}).set_index("segment")
        false_alarms += int(table.loc["same", "p_value"] < 0.05)
        assert table.loc["slow", "gap"] > 0.25
    assert false_alarms / runs < 0.05 + 3 * np.sqrt(0.05 * 0.95 / runs)


def test_the_audit_logit_matches_a_direct_fit_and_sees_through_the_task_mix() -> None:
    import statsmodels.formula.api as smf

    from metrics.adjust import logit_gap, unit_rows

    rng = np.random.default_rng(11)
    english = _cells(rng, "en", 1500, {"easy": 0.8, "hard": 0.2}, {"easy": 0.10, "hard": 0.50}, spread=0.03)
    non_native = _cells(rng, "nn", 1500, {"easy": 0.4, "hard": 0.6}, {"easy": 0.06, "hard": 0.42}, spread=0.03)
    settings = GapSettings()
    levels = ["non_events", "escalated"]
    nn, en = (c.assign(non_events=c["requests"] - c["escalated"]) for c in (non_native, english))
    gap, se, p_value, _ = astuple(logit_gap(unit_rows(nn, en, levels, settings.audit_cap, settings.min_task_rows)))
    rows = []
    for flag, cells in ((1, non_native), (0, english)):
        for cell in cells.itertuples():
            rows += [(1, flag, cell.task_type, cell.user_id)] * cell.escalated
            rows += [(0, flag, cell.task_type, cell.user_id)] * (cell.requests - cell.escalated)
    direct = pd.DataFrame(rows, columns=["y", "is_seg", "task_type", "user_id"])
    fit = smf.logit("y ~ is_seg + C(task_type)", data=direct).fit(
        disp=False, cov_type="cluster", cov_kwds={"groups": pd.factorize(direct["user_id"])[0]}
    )
    effect = fit.get_margeff(at="overall", method="dydx", dummy=True).summary_frame().loc["is_seg"]
    assert gap == pytest.approx(effect["dy/dx"], rel=1e-6) and se == pytest.approx(effect["Std. Err."], rel=1e-6)
    assert gap < -0.03 and p_value < 1e-6  # escalated less within tasks, though more in aggregate
    table = gap_table_from_cells(
        {"language": pd.concat([english, non_native])}, GapSettings(reference={"language": "en"}, audit=True)
    )
    row = _escalation(table, "nn")
    assert row["gap"] > 0 and row["adjusted_gap"] == pytest.approx(gap) and row["status"] == Status.CONFIRMED
    assert row["note"].startswith("reversal")


def test_selected_contrasts_get_false_coverage_intervals() -> None:
    from statistics import NormalDist

    rng = np.random.default_rng(12)
    cells = [_cells(rng, "ref", 3000, {"t": 1.0}, {"t": 0.20})]
    cells += [_cells(rng, f"s{i}", 1500, {"t": 1.0}, {"t": 0.20 - 0.03 * (i % 3)}) for i in range(6)]
    table = gap_table_from_cells({"d": pd.concat(cells)}, REF, metrics=["escalation_rate"])
    selected = table[table["p_adjusted"] < 0.05]
    assert 0 < len(selected) < len(table)
    z = NormalDist().inv_cdf(1 - len(selected) * 0.05 / len(table) / 2)  # level 1 - R q / m
    assert z > 1.96  # wider than a plain 95% interval: the winners' intervals are not too optimistic
    for _, row in selected.iterrows():
        assert row["fcr_ci_high"] - row["fcr_ci_low"] == pytest.approx(2 * z * row["adjusted_se"])
        assert row["fcr_ci_low"] < row["adjusted_gap"] < row["fcr_ci_high"]
        assert row["severity"] in ("high", "critical")
    assert table.loc[table["p_adjusted"] >= 0.05, "fcr_ci_low"].isna().all()


def test_a_filter_keeps_only_its_cut(synthetic_store: tuple[Any, pd.DataFrame]) -> None:
    store, frame = synthetic_store
    cells = load_cells(store, "language", where={"channel": "chat", "router": "bert-router@v7"})
    kept = frame[(frame["channel"] == "chat") & (frame["router"] == "bert-router@v7")]
    assert cells["requests"].sum() == len(kept)
    assert set(cells["segment"]) == set(kept["language"])


@pytest.fixture(scope="module")
def mixed_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, pd.DataFrame]:
    """4,000 synthetic requests where the first 60 users alternate between two languages, two accounts and two
    values of the ``native_speaker`` segment key, so that some tie between them (ties go to the greatest name)."""
    frame = generate(4_000, seed=13, days=3)
    mixed = frame["user_id"].isin([f"u-{k}" for k in range(60)])
    even = np.arange(int(mixed.sum())) % 2 == 0
    frame.loc[mixed, "language"] = np.where(even, "de", "en")
    frame.loc[mixed, "account_id"] = np.where(even, "acct-001", "acct-002")
    frame.loc[mixed, "segments"] = [{"native_speaker": "yes" if e else "no"} for e in even]
    folder = tmp_path_factory.mktemp("mixed")
    store = Store(f"chdb://{folder / 'store'}")
    ingest(store, [str(write_jsonl(frame, folder / "mixed.jsonl"))])
    frame["segments.native_speaker"] = frame["segments"].map(lambda keys: (keys or {}).get("native_speaker", ""))
    return store, frame


@pytest.mark.parametrize("dimension", ["language", "account_id", "segments.native_speaker"])
def test_the_store_sums_each_users_moments_as_pandas_does(
    mixed_store: tuple[Store, pd.DataFrame], dimension: str
) -> None:
    store, frame = mixed_store
    got = load_cells(store, dimension, grain="moments")
    got_segments = got[got["grain"] == "segment"].set_index("segment").sort_index()
    # Each user whole in their modal segment (ties to the greatest name), then per-user sums.
    counts = frame.groupby(["user_id", dimension]).size().rename("n").reset_index()
    modal = counts.sort_values(["n", dimension]).groupby("user_id")[dimension].last()
    per_segment = counts.pivot(index="user_id", columns=dimension, values="n").fillna(0)
    assert ((per_segment > 0).sum(axis=1) > 1).sum() >= 30  # users in two segments
    assert (per_segment.max(axis=1) == per_segment.apply(lambda r: r.nlargest(2).iloc[-1], axis=1)).any()  # ties
    rows = pd.DataFrame(
        {
            "segment": frame["user_id"].map(modal),
            "user_id": frame["user_id"],
            "requests": 1,
            "escalated": frame["escalated"].astype(int),
            "errors": (frame["status"] == "error").astype(int),
            "known": frame["resolved"].notna().astype(int),
            "resolved": frame["resolved"].eq(True).astype(int),
            "rated": frame["thumb"].notna().astype(int),
            "thumbs_up": frame["thumb"].eq(1).astype(int),
            "priced": frame["cost_usd"].notna().astype(int),
            "cost": frame["cost_usd"].astype(float).fillna(0.0),
            **{f"csat_{level}": frame["csat"].eq(level).astype(int) for level in range(1, 6)},
        }
    )
    users = rows.groupby(["segment", "user_id"]).sum()
    by_segment = users.groupby(level="segment")
    assert (got_segments["users"] == by_segment.size()).all()
    assert (got_segments["sq_escalated"] == (users["escalated"] ** 2).groupby(level="segment").sum()).all()
    product = (users["thumbs_up"] * users["rated"]).groupby(level="segment").sum()
    assert (got_segments["thumbs_up_x_rated"] == product).all()
    assert (got_segments["users_known"] == (users["known"] > 0).groupby(level="segment").sum()).all()
    expected = segment_moments(users)
    for column in [c for c in expected.columns if c != "cost_within"]:
        assert np.allclose(got_segments[column].astype(float), expected[column].astype(float), rtol=1e-9), column
    tasks = rows.assign(task_type=frame["task_type"]).groupby(["segment", "task_type"])["escalated"].sum()
    got_tasks = got[got["grain"] == "task"].set_index(["segment", "task_type"])["escalated"]
    assert got_tasks.sort_index().tolist() == tasks.sort_index().tolist()


def test_the_gap_table_from_the_stores_moments_is_the_one_from_the_cells(demo_store: Store) -> None:
    metrics = ["escalation_rate", "error_rate", "resolution_rate", "thumbs_up_rate", "csat", "cost_per_request"]
    from_cells = gap_table_from_cells({"language": load_cells(demo_store, "language")}, GapSettings(), metrics)
    from_store = gap_table(demo_store, ["language"], metrics=metrics)
    assert "confirmed" in set(from_store["status"])
    pd.testing.assert_frame_equal(from_store, from_cells, rtol=1e-9)


def _restricted_variance(k1: float, n1: float, k0: float, n0: float, diff: float) -> float:
    """Var(p1 - p0) under p1 - p0 = diff at the restricted maximum likelihood, found here by solving the score
    equation numerically (not by the cubic), with the N / (N - 1) correction."""

    def score(p0: float) -> float:
        return k1 / (p0 + diff) - (n1 - k1) / (1 - p0 - diff) + k0 / p0 - (n0 - k0) / (1 - p0)

    p0 = brentq(score, max(0.0, -diff) + 1e-13, min(1.0, 1 - diff) - 1e-13, xtol=1e-16, maxiter=1000)
    p1 = p0 + diff
    return (p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0) * (n1 + n0) / (n1 + n0 - 1)


def test_the_score_interval_inverts_the_score_test_even_far_below_the_reference() -> None:
    rng = np.random.default_rng(3)
    crit = NormalDist().inv_cdf(0.975)
    for _ in range(400):
        (n1, n0), (p1, p0) = rng.uniform(20, 50_000, 2), rng.uniform(0.001, 0.999, 2)
        args = (n1 * p1, n1, n0 * p0, n0)  # effective counts need not be whole
        low, high = score_interval(*args, alpha=0.05)
        assert low < p1 - p0 < high
        for bound in (low, high):
            assert abs(p1 - p0 - bound) / math.sqrt(_restricted_variance(*args, bound)) == pytest.approx(crit, abs=1e-8)
    # Where statsmodels' score interval fails (its cubic has a wrong coefficient): a segment far below its reference.
    low, high = score_interval(200, 1000, 7500, 10000, alpha=0.05)
    assert -0.6 < low < high < -0.5


def test_a_segment_far_below_its_reference_is_confirmed_not_a_failed_model() -> None:
    rng = np.random.default_rng(8)
    reference = _cells(rng, "ref", 2000, {"t": 1.0}, {"t": 0.75}, spread=0.05)
    segment = _cells(rng, "seg", 1500, {"t": 1.0}, {"t": 0.15}, spread=0.05)
    row = _escalation(gap_table_from_cells({"d": pd.concat([reference, segment])}, REF), "seg")
    assert row["status"] == Status.CONFIRMED.value, row["note"]
    assert row["ci_low"] < row["gap"] < row["ci_high"] < -0.5


def test_the_score_interval_matches_the_published_miettinen_nurminen_example() -> None:
    # Fagerland, Lydersen and Laake (2015), 7/34 against 1/34: Miettinen-Nurminen 95% interval (0.028, 0.34),
    # published without the N / (N - 1) factor; dividing the variance by it equals scaling the critical value.
    n = 68
    uncorrected = 2 * (1 - NormalDist().cdf(NormalDist().inv_cdf(0.975) * math.sqrt((n - 1) / n)))
    low, high = score_interval(7, 34, 1, 34, alpha=uncorrected)
    assert (round(low, 3), round(high, 2)) == (0.028, 0.34)


@pytest.mark.parametrize("nobs1", [12.5, 400.0, 90_000.0])
@pytest.mark.parametrize(("ratio", "alpha", "power"), [(1.0, 0.05, 0.8), (7.3, 0.05 / 40, 0.9), (0.2, 0.2, 0.3)])
def test_the_detectable_effect_is_statsmodels_solve_power(
    nobs1: float, ratio: float, alpha: float, power: float
) -> None:
    found = detectable_effect(nobs1, nobs1 * ratio, alpha, power)
    assert NormalIndPower().power(found, nobs1, alpha, ratio=ratio) == pytest.approx(power, abs=1e-10)
    solved = NormalIndPower().solve_power(effect_size=None, nobs1=nobs1, alpha=alpha, power=power, ratio=ratio)
    assert found == pytest.approx(solved, rel=1e-3)  # statsmodels stops bracketing earlier: its power is off more


def test_traffic_to_decide_scales_with_the_square_of_the_detectable_gap() -> None:
    table = pd.DataFrame(
        {
            "metric": ["resolution_rate", "resolution_rate", "error_rate"],
            "mde": [0.06, 0.06, 0.01],
            "requests": [1000, 1000, 500],
            "status": ["underpowered", "no_evidence", "equivalent"],
        }
    )
    more = traffic_to_decide(table)
    assert more.iloc[0] == 3000  # (0.06 / 0.03)^2 = 4 times the traffic: 3,000 more requests
    assert more.iloc[1:].isna().all()


def test_every_status_has_plain_words() -> None:
    assert set(STATUS_WORDS) == set(Status)


def test_progress_hears_of_every_comparison_then_every_audit_model() -> None:
    rng = np.random.default_rng(12)
    cells = pd.concat(
        [
            _cells(rng, "en", 400, {"easy": 0.7, "hard": 0.3}, {"easy": 0.1, "hard": 0.4}),
            _cells(rng, "nn", 300, {"easy": 0.5, "hard": 0.5}, {"easy": 0.08, "hard": 0.35}),
        ]
    )
    heard: list[tuple[str, int, int]] = []
    settings = GapSettings(reference={"language": "en"}, audit=True)
    table = gap_table_from_cells({"language": cells}, settings, progress=lambda *step: heard.append(step))
    compared = [step for step in heard if step[0] == "comparisons"]
    audited = [step for step in heard if step[0] == "audit models"]
    assert [done for _, done, _ in compared] == list(range(1, len(table) + 1))
    assert audited and audited[-1][1] == audited[-1][2] == int(table["adjusted_by"].notna().sum())


def test_the_score_test_equals_statsmodels_and_holds_where_it_divides_by_zero() -> None:
    rng = np.random.default_rng(6)
    for _ in range(300):
        n1, n0 = rng.uniform(20, 3000, 2)
        k1, k0 = rng.uniform(0.01, 0.99) * n1, rng.uniform(0.01, 0.99) * n0
        direct = proportion.test_proportions_2indep(k1, n1, k0, n0, method="score", compare="diff", correction=True)
        assert score_test(k1, n1, k0, n0) == pytest.approx(direct.pvalue, rel=1e-9, abs=1e-300)
    # Never escalated against 10.75%: the p-value the issue quotes, and an interval that excludes the margin.
    assert score_test(0, 600, 215, 2000) == pytest.approx(5.13e-17, rel=1e-2)
    low, high = score_interval(0, 600, 215, 2000, 0.05)
    assert -0.13 < low < high < -0.09
    assert score_test(0, 600, 0, 2000) == 1.0  # no events anywhere: no evidence of a gap, not a division error
    assert score_interval(0, 600, 0, 2000, 0.05)[0] < 0 < score_interval(0, 600, 0, 2000, 0.05)[1]
    assert score_test(600, 600, 215, 2000) < 1e-100  # every request an event


def test_a_group_without_variation_borrows_the_pooled_design_effect() -> None:
    rng = np.random.default_rng(7)
    reference = _cells(rng, "ref", 300, {"t": 1.0}, {"t": 0.2}, spread=0.1)
    never = _cells(rng, "seg", 100, {"t": 1.0}, {"t": 0.0}).assign(escalated=0)
    moments = segment_moments(pd.concat([reference, never]).set_index(["segment", "user_id"]).drop(columns="task_type"))
    own = cluster_counts(moments.loc["ref"], "escalated", "requests").deff
    assert own > 1.5  # the reference is clustered
    assert pooled_design_effect((moments.loc["seg"], moments.loc["ref"]), "escalated", "requests") == pytest.approx(own)
    row = _escalation(gap_table_from_cells({"d": pd.concat([reference, never])}, REF), "seg")
    assert row["deff"] == pytest.approx(own) and "pooled" in row["note"]
    assert row["status"] == Status.CONFIRMED and abs(row["value_ci_low"]) < 1e-12 < row["value_ci_high"]


def test_every_gap_table_has_the_same_columns() -> None:
    rng = np.random.default_rng(8)
    small = gap_table_from_cells({"d": pd.concat([_cells(rng, "ref", 40, {"t": 1.0}, {"t": 0.2}),
                                                  _cells(rng, "seg", 5, {"t": 1.0}, {"t": 0.2})])}, REF)  # fmt: skip
    large = gap_table_from_cells({"d": pd.concat([_cells(rng, "ref", 400, {"t": 1.0}, {"t": 0.2}),
                                                  _cells(rng, "seg", 400, {"t": 1.0}, {"t": 0.1})])}, REF)  # fmt: skip
    empty = gap_table_from_cells({"d": pd.DataFrame()}, REF)
    assert (small["status"] == "insufficient_data").all() and (large["status"] == "confirmed").any()
    assert list(small.columns) == list(large.columns) == list(empty.columns) == list(GAP_ROW_FIELDS)
    assert GAP_ROW_FIELDS[: len(COLUMNS)] == COLUMNS


def test_a_real_gap_smaller_than_the_margin_is_below_margin_never_no_evidence() -> None:
    # 1.2 points more escalation in 100,000 requests a side: certain, but under the 2-point margin.
    rng = np.random.default_rng(11)
    reference = _cells(rng, "ref", 5000, {"t": 1.0}, {"t": 0.100})
    segment = _cells(rng, "seg", 5000, {"t": 1.0}, {"t": 0.112})
    row = _escalation(gap_table_from_cells({"d": pd.concat([reference, segment])}, REF), "seg")
    assert row["p_adjusted"] < 1e-4 and 0 < row["adjusted_gap"] < 0.02
    assert row["status"] == Status.BELOW_MARGIN


def test_task_mix_explains_a_gap_only_when_the_adjusted_test_does_not_reject() -> None:
    # Raw gap beyond the margin, mostly task mix, but a real 1-point gap remains within each task type.
    rng = np.random.default_rng(12)
    reference = _cells(rng, "ref", 6000, {"easy": 0.8, "hard": 0.2}, {"easy": 0.10, "hard": 0.40})
    segment = _cells(rng, "seg", 6000, {"easy": 0.5, "hard": 0.5}, {"easy": 0.11, "hard": 0.41})
    row = _escalation(gap_table_from_cells({"d": pd.concat([reference, segment])}, REF), "seg")
    assert row["gap"] > 0.05 and row["p_adjusted"] < 0.05  # the adjusted test rejects ...
    assert row["status"] == Status.BELOW_MARGIN  # ... so the task mix does not explain it away
    # Without the remaining gap, the task mix does explain it.
    same = _cells(rng, "seg", 6000, {"easy": 0.5, "hard": 0.5}, {"easy": 0.10, "hard": 0.40})
    row = _escalation(gap_table_from_cells({"d": pd.concat([reference, same])}, REF), "seg")
    assert row["status"] in (Status.EXPLAINED_BY_TASK_MIX, Status.EQUIVALENT)
    assert row["p_adjusted"] >= 0.05 or row["status"] == Status.EQUIVALENT


def test_task_types_are_compared_raw_not_adjusted_for_themselves() -> None:
    rng = np.random.default_rng(13)
    chat = _cells(rng, "chat", 500, {"chat": 0.9, "code": 0.1}, {"chat": 0.10, "code": 0.30})
    code = _cells(rng, "code", 500, {"chat": 0.1, "code": 0.9}, {"chat": 0.10, "code": 0.30})
    cells = pd.concat([chat, code])
    row = _escalation(gap_table_from_cells({"task_type": cells}, GapSettings(reference={"task_type": "chat"})), "code")
    assert row["coverage"] == 0 and "no task type in both groups" in row["note"]
    assert row["adjusted_gap"] == pytest.approx(row["gap"])


def test_the_design_effect_shown_is_the_one_behind_the_effective_count() -> None:
    rng = np.random.default_rng(14)
    reference = _cells(rng, "ref", 300, {"t": 1.0}, {"t": 0.2}, spread=0.15)
    segment = _cells(rng, "seg", 300, {"t": 1.0}, {"t": 0.2})
    row = _escalation(gap_table_from_cells({"d": pd.concat([reference, segment])}, REF), "seg")
    assert row["n_eff"] == pytest.approx(row["requests"] / row["deff"])

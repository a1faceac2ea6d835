"""Task-mix adjustment of CSAT, cost per request and p95 latency: against independent computations, through the
Simpson story (a raw gap that the task mix explains, a gap within every task), by simulation under no gap, and
the audit's models against direct statsmodels fits."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from metrics.adjust import (
    CSAT_LEVELS,
    gamma_cost_gap,
    latent_superiority,
    ordinal_gap,
    quantile_latency_gap,
    unit_rows,
)
from metrics.gaps import GapSettings, Status, gap_table_from_cells

TASKS = ("easy", "hard")
COST = {"easy": 0.001, "hard": 0.01}
LATENCY = {"easy": 500.0, "hard": 2000.0}
CSAT = {"easy": [0.05, 0.05, 0.1, 0.3, 0.5], "hard": [0.2, 0.2, 0.2, 0.2, 0.2]}
WORSE_CSAT = {"easy": [0.15, 0.15, 0.2, 0.25, 0.25], "hard": [0.35, 0.25, 0.2, 0.1, 0.1]}
METRICS = ["csat", "cost_per_request", "latency_p95"]
SETTINGS = GapSettings(reference={"d": "ref"}, bootstrap_samples=400)


@dataclass(frozen=True)
class Story:
    """A segment's traffic: its task mix and what it gets within each task."""

    name: str
    users: int
    hard_share: float
    cost_scale: float = 1.0
    latency_scale: float = 1.0
    csat: dict[str, list[float]] = field(default_factory=lambda: CSAT)


def _requests(rng: np.random.Generator, story: Story, per_user: int = 10) -> pd.DataFrame:
    """Request rows; users differ in cost and speed (clustering) and in how many requests they send."""
    counts = rng.integers(per_user // 2, per_user * 3 // 2 + 1, story.users)
    user = np.repeat(np.arange(story.users), counts)
    n = len(user)
    task = np.where(rng.random(n) < story.hard_share, "hard", "easy")
    user_factor = rng.lognormal(0, 0.3, story.users)[user]
    cost = pd.Series(task).map(COST).to_numpy() * story.cost_scale * user_factor * rng.lognormal(0, 0.5, n)
    latency = pd.Series(task).map(LATENCY).to_numpy() * story.latency_scale * user_factor * rng.lognormal(0, 0.4, n)
    rating = np.zeros(n, dtype=int)
    for name in TASKS:
        mask = task == name
        rating[mask] = rng.choice(np.arange(1, 6), mask.sum(), p=story.csat[name])
    rating[rng.random(n) < 0.5] = 0  # half the requests are not rated
    return pd.DataFrame(
        {
            "segment": story.name,
            "user_id": [f"{story.name}-{u}" for u in user],
            "task_type": task,
            "cost": cost,
            "latency_ms": latency,
            "rating": rating,
            "hour_of_day": rng.integers(0, 24, n),
        }
    )


def _cells(requests: pd.DataFrame) -> pd.DataFrame:
    """Per-(segment, task, user) sums, as sql/queries/gap_cells.sql returns them."""
    frame = requests.assign(
        requests=1,
        priced=1,
        cost_sq=requests["cost"] ** 2,
        **{level: (requests["rating"] == i + 1).astype(int) for i, level in enumerate(CSAT_LEVELS)},
    )
    for column in ("escalated", "errors", "known", "resolved", "rated", "thumbs_up"):
        frame[column] = 0
    task_mean = frame.groupby(["segment", "task_type"])["cost"].transform("mean")
    frame["cost_within"] = frame["cost"] - task_mean
    keep = ["requests", "priced", "cost", "cost_sq", "cost_within", *CSAT_LEVELS]
    keep += ["escalated", "errors", "known", "resolved"]
    return frame.groupby(["segment", "task_type", "user_id"], as_index=False)[[*keep, "rated", "thumbs_up"]].sum()


def _table(requests: pd.DataFrame, settings: GapSettings = SETTINGS) -> pd.DataFrame:
    sample = requests[["segment", "user_id", "latency_ms", "task_type", "hour_of_day"]]
    table = gap_table_from_cells({"d": _cells(requests)}, settings, METRICS, {"d": sample})
    return table.set_index(["segment", "metric"])


def _stories(rng: np.random.Generator) -> pd.DataFrame:
    return pd.concat(
        [
            _requests(rng, Story("ref", 1500, hard_share=0.2)),
            _requests(rng, Story("mix", 1000, hard_share=0.7)),  # asks harder things, served the same
            _requests(
                rng,
                Story("worse", 1000, hard_share=0.2, cost_scale=1.4, latency_scale=1.5, csat=WORSE_CSAT),
            ),
        ],
        ignore_index=True,
    )


@pytest.fixture(scope="module")
def stories() -> tuple[pd.DataFrame, pd.DataFrame]:
    requests = _stories(np.random.default_rng(5))
    return requests, _table(requests)


def _reference_mix(requests: pd.DataFrame, weight_on: pd.Series) -> pd.Series:
    counts = weight_on[requests["segment"] == "ref"].groupby(requests["task_type"]).sum()
    return counts / counts.sum()


def test_adjusted_gaps_match_independent_computations(stories: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    from statsmodels.stats.nonparametric import rank_compare_2ordinal

    requests, table = stories
    by_task = requests.groupby(["segment", "task_type"])
    # Cost: the ratio of task means weighted by the reference's request mix.
    weights = _reference_mix(requests, pd.Series(1, index=requests.index))
    means = by_task["cost"].mean()
    ratio = (means["mix"] * weights).sum() / (means["ref"] * weights).sum()
    assert table.loc[("mix", "cost_per_request"), "adjusted_gap"] == pytest.approx(ratio - 1, rel=1e-9)
    # CSAT: each task's probability of superiority (scale-free: the design effect cannot move it), weighted by
    # the reference's ratings per task.
    rated = requests[requests["rating"] > 0]
    weights = _reference_mix(rated, pd.Series(1, index=rated.index))
    levels = rated.groupby(["segment", "task_type"])["rating"].value_counts().unstack(fill_value=0)
    superiority = sum(
        weights[t] * (rank_compare_2ordinal(levels.loc[("worse", t)], levels.loc[("ref", t)]).prob1 - 0.5)
        for t in TASKS
    )
    assert table.loc[("worse", "csat"), "adjusted_gap"] == pytest.approx(superiority, rel=1e-9)
    # p95: the weighted inverse-CDF p95 of the segment's requests at the reference's task mix.
    sample = requests[requests["segment"] == "mix"]
    shares = _reference_mix(requests, pd.Series(1, index=requests.index))
    row_weights = sample["task_type"].map(shares / sample["task_type"].value_counts())
    p95 = np.quantile(sample["latency_ms"], 0.95, weights=row_weights, method="inverted_cdf")
    reference_p95 = np.quantile(requests.loc[requests["segment"] == "ref", "latency_ms"], 0.95, method="inverted_cdf")
    assert table.loc[("mix", "latency_p95"), "adjusted_gap"] == pytest.approx(p95 / reference_p95 - 1, rel=1e-9)


@pytest.mark.parametrize("metric", METRICS)
def test_a_raw_gap_the_task_mix_explains_is_not_an_alert(
    metric: str, stories: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    _, table = stories
    mix, worse = table.loc[("mix", metric)], table.loc[("worse", metric)]
    assert abs(mix["gap"]) > SETTINGS.delta[metric]  # raw: far apart
    assert abs(mix["adjusted_gap"]) < SETTINGS.delta[metric] / 2  # within each task: the same
    assert mix["status"] == Status.EXPLAINED_BY_TASK_MIX
    assert mix["coverage"] == 1.0
    assert worse["status"] == Status.CONFIRMED and abs(worse["adjusted_gap"]) > SETTINGS.delta[metric]


def test_planted_ratios_are_recovered_within_tasks(stories: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, table = stories
    assert table.loc[("worse", "cost_per_request"), "adjusted_gap"] == pytest.approx(0.4, abs=0.1)
    assert table.loc[("worse", "latency_p95"), "adjusted_gap"] == pytest.approx(0.5, abs=0.12)
    assert table.loc[("worse", "csat"), "adjusted_gap"] < -0.1


@pytest.mark.slow
def test_adjusted_tests_keep_their_level_under_no_gap_by_simulation() -> None:
    """A segment with another task mix and nothing else different: its adjusted tests reject at about the
    nominal 5% (plus a Monte Carlo margin), the raw ones almost always."""
    runs = 100
    false_alarms = dict.fromkeys(METRICS, 0)
    raw_alarms = dict.fromkeys(METRICS, 0)
    settings = GapSettings(reference={"d": "ref"}, bootstrap_samples=300)
    for seed in range(runs):
        rng = np.random.default_rng(9000 + seed)
        requests = pd.concat(
            [_requests(rng, Story("ref", 500, hard_share=0.2)), _requests(rng, Story("mix", 400, hard_share=0.6))]
        )
        table = _table(requests, settings)
        for metric in METRICS:
            false_alarms[metric] += int(table.loc[("mix", metric), "p_adjusted_test"] < 0.05)
            raw_alarms[metric] += int(table.loc[("mix", metric), "p_value"] < 0.05)
    margin = 0.05 + 3 * math.sqrt(0.05 * 0.95 / runs)
    assert all(count / runs <= margin for count in false_alarms.values()), false_alarms
    assert all(count / runs > 0.8 for count in raw_alarms.values()), raw_alarms


def test_the_gamma_audit_on_cells_matches_the_request_level_fit() -> None:
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(21)
    requests = pd.concat(
        [_requests(rng, Story("ref", 300, 0.2)), _requests(rng, Story("seg", 300, 0.6, cost_scale=1.3))]
    )
    cells = _cells(requests)
    adjusted = gamma_cost_gap(cells[cells["segment"] == "seg"], cells[cells["segment"] == "ref"])
    rows = requests.assign(is_seg=(requests["segment"] == "seg").astype(int))
    family = sm.families.Gamma(link=sm.families.links.Log())
    direct = smf.glm("cost ~ is_seg + C(task_type)", rows, family=family).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(rows["user_id"])[0]}
    )
    assert adjusted.gap == pytest.approx(math.expm1(direct.params["is_seg"]), rel=1e-6)
    # The same cluster scores; only the small-sample factor differs (cells against requests).
    assert adjusted.se == pytest.approx(direct.bse["is_seg"], rel=0.02)
    assert adjusted.gap == pytest.approx(0.3, abs=0.12)


def test_the_ordinal_audit_matches_a_direct_fit_and_its_latent_superiority() -> None:
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    rng = np.random.default_rng(22)
    requests = pd.concat(
        [_requests(rng, Story("ref", 400, 0.2)), _requests(rng, Story("seg", 400, 0.6, csat=WORSE_CSAT))]
    )
    cells = _cells(requests)
    rows = unit_rows(cells[cells["segment"] == "seg"], cells[cells["segment"] == "ref"], CSAT_LEVELS, 10**6, 50)
    adjusted = ordinal_gap(rows)
    rated = requests[requests["rating"] > 0].assign(is_seg=lambda d: (d["segment"] == "seg").astype(int))
    rated = rated.assign(rating=pd.Categorical(rated["rating"], ordered=True))
    direct = OrderedModel.from_formula("rating ~ is_seg + C(task_type)", rated, distr="logit").fit(
        method="bfgs", disp=False, cov_type="cluster", cov_kwds={"groups": pd.factorize(rated["user_id"])[0]}
    )
    shift = direct.params["is_seg"]
    assert adjusted.gap == pytest.approx(latent_superiority(shift) - 0.5, abs=1e-4)
    assert adjusted.p_value == pytest.approx(direct.pvalues["is_seg"], rel=1e-2, abs=1e-12)
    assert adjusted.gap < -0.1
    # The latent probability of superiority, checked by simulation of two logistic draws.
    draws = np.random.default_rng(0).logistic(size=(2, 400_000))
    assert latent_superiority(0.8) == pytest.approx(float(np.mean(draws[0] + 0.8 > draws[1])), abs=0.003)


def test_the_quantile_audit_sees_through_the_task_mix() -> None:
    rng = np.random.default_rng(23)
    requests = pd.concat(
        [
            _requests(rng, Story("ref", 800, 0.2)),
            _requests(rng, Story("mix", 800, 0.7)),
            _requests(rng, Story("slow", 800, 0.2, latency_scale=1.5)),
        ]
    )
    for segment, expected in (("mix", 0.0), ("slow", 0.5)):
        sample = requests[requests["segment"].isin([segment, "ref"])]
        sample = sample.assign(is_seg=(sample["segment"] == segment).astype(int))
        adjusted = quantile_latency_gap(sample, per_user=5)
        assert adjusted.gap == pytest.approx(expected, abs=0.15)


def test_the_audit_adjusts_every_metric_and_keeps_the_verdicts(stories: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    requests, standardized = stories
    audited = _table(requests, GapSettings(reference={"d": "ref"}, bootstrap_samples=400, audit=True))
    for metric, model in (
        ("csat", "ordinal logit"),
        ("cost_per_request", "gamma GLM"),
        ("latency_p95", "quantile regression"),
    ):
        assert audited.loc[("worse", metric), "adjusted_by"] == model
        assert audited.loc[("worse", metric), "standardized_gap"] == standardized.loc[("worse", metric), "adjusted_gap"]
        assert audited.loc[("worse", metric), "status"] == Status.CONFIRMED
        assert audited.loc[("mix", metric), "status"] == Status.EXPLAINED_BY_TASK_MIX

"""Task-mix adjustment (STATISTICS.md R3.4, R4, R5): what a segment's gap would be if it asked what its reference
asks. A raw gap can mislead when segments ask different things (Simpson); this is the guard.

Two layers, for every metric:

* direct standardization to the reference's task mix, cheap enough for every window (the CUSUM steps on it):
  rates, CSAT's probability of superiority, cost per request, and p95 latency (through task weights that the
  user-level bootstrap of metrics.gaps applies);
* the audit's models, with errors clustered by user: a logit (binary metrics), an ordinal logit (CSAT), a Gamma
  GLM with a log link (cost per request), a quantile regression of log latency (p95).

Each returns an ``Adjusted`` on the raw gap's scale: rate points, P(segment rates higher) - 0.5, or ratio - 1.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

CSAT_LEVELS = ["csat_1", "csat_2", "csat_3", "csat_4", "csat_5"]


@dataclass(frozen=True)
class Adjusted:
    """A task-adjusted gap: the gap, its standard error (of the log ratio for ratio metrics), the p-value of no
    gap, and the share of the segment's traffic in the task types both groups have."""

    gap: float
    se: float
    p_value: float
    coverage: float = 1.0

    def gap_se(self, log_scale: bool) -> float:
        """The standard error on the gap's own scale (for a ratio - 1, the log ratio's by the delta method)."""
        return (1 + self.gap) * self.se if log_scale else self.se


def normal_p_value(estimate: float, se: float) -> float:
    """Two-sided p-value of a normal test of ``estimate`` = 0."""
    return math.erfc(abs(estimate) / (se * math.sqrt(2))) if se > 0 else math.nan


def reference_weights(seg_n: pd.Series, ref_n: pd.Series) -> tuple[pd.Series, float]:
    """The reference's task mix over the task types both groups have (R3.4: drop the others, renormalize), and the
    share of the segment's traffic kept (the stratum coverage)."""
    both = seg_n.index.intersection(ref_n.index)
    kept, weights, coverage = _mix(seg_n[both].to_numpy(float), ref_n[both].to_numpy(float), float(seg_n.sum()))
    return pd.Series(weights, index=both[kept]), coverage


def _mix(seg_n: np.ndarray, ref_n: np.ndarray, seg_total: float) -> tuple[np.ndarray, np.ndarray, float]:
    """``reference_weights`` on aligned arrays: which task types are kept, their weights, and the coverage."""
    kept = (seg_n > 0) & (ref_n > 0)
    weights = ref_n[kept] / ref_n[kept].sum() if kept.any() else ref_n[kept]
    return kept, weights, float(seg_n[kept].sum()) / seg_total if seg_total else 0.0


def standardized_rate_gap(
    segment: tuple[np.ndarray, np.ndarray],
    reference: tuple[np.ndarray, np.ndarray],
    deff: tuple[float, float] = (1.0, 1.0),
) -> Adjusted | None:
    """Direct standardization of a rate gap. Each group is its (events, trials) per task type, both groups over the
    same task types in the same order (arrays, not frames: the gap table standardizes every binary contrast).

    The variance smooths each cell's rate as (k+1)/(n+2), so that a zero cell keeps its variance, and multiplies
    each group's part by that group's design effect, as its effective counts are in the raw test.
    """
    (seg_k, seg_n), (ref_k, ref_n) = segment, reference
    kept, weights, coverage = _mix(seg_n, ref_n, float(seg_n.sum()))
    if not kept.any():
        return None
    seg_k, seg_n, ref_k, ref_n = seg_k[kept], seg_n[kept], ref_k[kept], ref_n[kept]
    gap = float(np.sum(weights * (seg_k / seg_n - ref_k / ref_n)))
    smooth_seg, smooth_ref = (seg_k + 1) / (seg_n + 2), (ref_k + 1) / (ref_n + 2)
    variance = float(
        np.sum(
            weights**2
            * (deff[0] * smooth_seg * (1 - smooth_seg) / seg_n + deff[1] * smooth_ref * (1 - smooth_ref) / ref_n)
        )
    )
    se = math.sqrt(variance)
    return Adjusted(gap, se, normal_p_value(gap, se), coverage)


def standardized_csat_gap(
    segment: pd.DataFrame, reference: pd.DataFrame, deff: tuple[float, float], min_ratings: int = 10
) -> Adjusted | None:
    """Direct standardization of the probability of superiority: Brunner-Munzel within each task type (on
    effective counts), weighted by the reference's ratings per task type. Both frames have one row per task type
    with the columns ``CSAT_LEVELS``; task types with fewer than ``min_ratings`` ratings in either group are left
    out (and counted out of the coverage)."""
    from statsmodels.stats.nonparametric import rank_compare_2ordinal

    seg_n, ref_n = segment[CSAT_LEVELS].sum(axis=1), reference[CSAT_LEVELS].sum(axis=1)
    weights, coverage = reference_weights(seg_n.where(seg_n >= min_ratings, 0), ref_n.where(ref_n >= min_ratings, 0))
    gap, variance = 0.0, 0.0
    for task, weight in weights.items():
        seg_counts = segment.loc[task, CSAT_LEVELS].to_numpy(float) / deff[0]
        ref_counts = reference.loc[task, CSAT_LEVELS].to_numpy(float) / deff[1]
        with np.errstate(divide="ignore", invalid="ignore"):
            result = rank_compare_2ordinal(seg_counts, ref_counts)
        if not np.isfinite(result.var_prob):
            return None
        gap += weight * (result.prob1 - 0.5)
        variance += weight**2 * result.var_prob
    if weights.empty or variance <= 0:
        return None
    se = math.sqrt(variance)
    return Adjusted(float(gap), se, normal_p_value(gap, se), coverage)


def standardized_cost_ratio(
    segment: pd.DataFrame, reference: pd.DataFrame, deff: tuple[float, float]
) -> Adjusted | None:
    """Direct standardization of cost per request: the ratio of the two groups' task means weighted by the
    reference's mix, with the delta-method variance of its log (each group's part times its design effect).
    Both frames have one row per task type with ``priced`` (the requests whose cost is known), ``cost`` and
    ``cost_sq`` (the sum of squares)."""
    weights, coverage = reference_weights(segment["priced"], reference["priced"])
    if weights.empty:
        return None
    means, log_variance = [], 0.0
    for frame, design in zip((segment, reference), deff, strict=True):
        cells = frame.loc[weights.index]
        n = cells["priced"].astype(float)
        mean = cells["cost"] / n
        spread = (cells["cost_sq"] / n - mean**2).clip(lower=0) * n / (n - 1).clip(lower=1)
        level = float(np.sum(weights * mean))
        if not level > 0:
            return None
        means.append(level)
        log_variance += design * float(np.sum(weights**2 * spread / n)) / level**2
    log_ratio, se = math.log(means[0] / means[1]), math.sqrt(log_variance)
    return Adjusted(math.expm1(log_ratio), se, normal_p_value(log_ratio, se), coverage)


def p95_task_weights(seg_tasks: np.ndarray, ref_tasks: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-request weights that give both samples the reference's task mix (over the task types both have):
    the segment's requests of task j weigh w_j / n1_j, the reference's 1 (0 outside the kept task types).
    A weighted p95 of each is the standardized p95; also returns the segment's share kept."""
    seg_n, ref_n = pd.Series(seg_tasks).value_counts(), pd.Series(ref_tasks).value_counts()
    weights, coverage = reference_weights(seg_n, ref_n)
    seg_weight = pd.Series(seg_tasks).map(weights / seg_n.reindex(weights.index)).fillna(0).to_numpy(float)
    ref_weight = pd.Series(ref_tasks).isin(weights.index).to_numpy(float)
    return seg_weight, ref_weight, coverage


def unit_rows(
    seg_cells: pd.DataFrame, ref_cells: pd.DataFrame, levels: list[str], cap: int, min_task_rows: int
) -> pd.DataFrame:
    """Request-level rows rebuilt from per-(user, task) counts of each outcome level: ``y`` (the level's
    position in ``levels``), ``is_seg``, ``task_type`` and ``user_id``.

    A group over ``cap`` requests keeps whole users sampled by hash; task types with fewer than
    ``min_task_rows`` rows in either group are pooled into "other" (R3.4).
    """
    parts = []
    for flag, cells in ((1, seg_cells), (0, ref_cells)):
        cells = cells[cells[levels].sum(axis=1) > 0]
        total = int(cells[levels].to_numpy().sum())
        if total > cap:
            buckets = pd.util.hash_array(cells["user_id"].to_numpy(dtype=str)) % 1000
            cells = cells[buckets < 1000 * cap / total]
        counts = cells[levels].to_numpy(dtype=np.int64).ravel()
        cell = np.repeat(np.repeat(np.arange(len(cells)), len(levels)), counts)
        parts.append(
            pd.DataFrame(
                {
                    "y": np.repeat(np.tile(np.arange(len(levels)), len(cells)), counts),
                    "is_seg": flag,
                    "task_type": cells["task_type"].to_numpy()[cell],
                    "user_id": cells["user_id"].to_numpy()[cell],
                }
            )
        )
    rows = pd.concat(parts, ignore_index=True)
    sizes = rows.groupby(["task_type", "is_seg"]).size().unstack(fill_value=0)
    small = sizes[sizes.min(axis=1) < min_task_rows].index
    rows.loc[rows["task_type"].isin(small), "task_type"] = "other"
    return rows


def _formula(outcome: str, rows: pd.DataFrame, *extra: str) -> str:
    """``outcome ~ is_seg`` plus each categorical covariate that varies in ``rows``."""
    terms = ["is_seg", *(f"C({c})" for c in ("task_type", *extra) if rows[c].nunique() > 1)]
    return f"{outcome} ~ {' + '.join(terms)}"


def _user_groups(rows: pd.DataFrame) -> np.ndarray:
    return pd.factorize(rows["user_id"])[0]


def logit_gap(rows: pd.DataFrame) -> Adjusted:
    """Logit of a 0/1 ``y`` on the segment and the task type, errors clustered by user: the average marginal
    effect of being in the segment (rate points)."""
    import statsmodels.formula.api as smf

    result = smf.logit(_formula("y", rows), data=rows).fit(
        disp=False, cov_type="cluster", cov_kwds={"groups": _user_groups(rows)}
    )
    effect = result.get_margeff(at="overall", method="dydx", dummy=True).summary_frame().loc["is_seg"]
    return Adjusted(float(effect["dy/dx"]), float(effect["Std. Err."]), float(effect["Pr(>|z|)"]))


def latent_superiority(shift: float) -> float:
    """P(a + shift > b) for independent standard logistic a and b: the probability of superiority that an
    ordinal logit's shift implies on the latent scale (0.5 at no shift)."""
    if abs(shift) < 1e-6:
        return 0.5 + shift / 6
    e = math.exp(shift)
    return e * (e - 1 - shift) / (e - 1) ** 2


def ordinal_gap(rows: pd.DataFrame) -> Adjusted:
    """Ordinal (proportional-odds) logit of the rating on the segment and the task type, errors clustered by user
    (R4). The gap is the latent probability of superiority - 0.5 at the fitted shift, its error by the delta
    method; the p-value is the shift's."""
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    rows = rows.assign(rating=pd.Categorical(rows["y"], categories=sorted(rows["y"].unique()), ordered=True))
    model = OrderedModel.from_formula(_formula("rating", rows), data=rows, distr="logit")
    result = model.fit(method="bfgs", disp=False, cov_type="cluster", cov_kwds={"groups": _user_groups(rows)})
    shift, se = float(result.params["is_seg"]), float(result.bse["is_seg"])
    slope = (latent_superiority(shift + 1e-4) - latent_superiority(shift - 1e-4)) / 2e-4
    return Adjusted(latent_superiority(shift) - 0.5, slope * se, float(result.pvalues["is_seg"]))


def gamma_cost_gap(seg_cells: pd.DataFrame, ref_cells: pd.DataFrame) -> Adjusted:
    """Gamma GLM with a log link of cost per request on the segment and the task type, errors clustered by user
    (R5): exp(coefficient) is the cost ratio at equal task mix. Fitted on per-(user, task) means weighted by
    their requests, which gives the request-level fit's estimating equations (its scores sum over each cell)."""
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    cells = pd.concat([seg_cells.assign(is_seg=1), ref_cells.assign(is_seg=0)], ignore_index=True)
    cells = cells[cells["priced"] > 0]  # over priced requests: an unpriced one has no cost to model
    cells = cells.assign(mean_cost=cells["cost"] / cells["priced"])
    family = sm.families.Gamma(link=sm.families.links.Log())
    model = smf.glm(_formula("mean_cost", cells), data=cells, family=family, var_weights=cells["priced"])
    with warnings.catch_warnings():
        # statsmodels has not verified cluster errors with weights in general; for these weights (a cell's
        # requests) tests/test_adjust.py checks them against the request-level fit.
        warnings.filterwarnings("ignore", "cov_type not fully supported with var_weights")
        result = model.fit(cov_type="cluster", cov_kwds={"groups": _user_groups(cells)})
    shift, se = float(result.params["is_seg"]), float(result.bse["is_seg"])
    return Adjusted(math.expm1(shift), se, float(result.pvalues["is_seg"]))


def quantile_latency_gap(sample: pd.DataFrame, per_user: int) -> Adjusted:
    """Quantile regression of log latency at q = 0.95 on the segment, the task type and the hour of day (R5):
    exp(coefficient) is the ratio of conditional p95s. Each user keeps at most ``per_user`` requests (the first
    by hash), so that the kernel sandwich's independence is nearer the truth. ``sample`` has ``is_seg``,
    ``user_id``, ``latency_ms``, ``task_type`` and ``hour_of_day``."""
    import statsmodels.formula.api as smf

    order = pd.util.hash_pandas_object(sample[["user_id", "latency_ms"]], index=False).to_numpy()
    rows = sample.assign(order=order).sort_values(["user_id", "order"])
    rows = rows[rows.groupby("user_id").cumcount() < per_user]
    rows = rows[rows["latency_ms"] > 0].assign(log_latency=lambda d: np.log(d["latency_ms"]))
    result = smf.quantreg(_formula("log_latency", rows, "hour_of_day"), rows).fit(q=0.95, max_iter=5000)
    shift, se = float(result.params["is_seg"]), float(result.bse["is_seg"])
    return Adjusted(math.expm1(shift), se, float(result.pvalues["is_seg"]))

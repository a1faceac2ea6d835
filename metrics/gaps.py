"""Segment gaps: is a segment really served worse than its reference, or is it noise?

The method (the parts that need no history): every segment is compared with a
reference segment (the largest by volume unless configured), with

* gates on sample size that look only at n, never at the gap;
* cluster-aware counts: requests cluster in users, so the variance is the linearized (cluster-robust) one and
  the statsmodels tests get Kish's effective counts;
* Wilson intervals per segment, the Miettinen-Nurminen score test and its matching interval for the gap;
* a task-mix-adjusted gap by direct standardization to the reference's task mix, its variance inflated by the
  design effect: the raw gap can mislead when segments ask different things (Simpson);
* the smallest detectable gap at the planning level q/m: a segment too small to judge is ``underpowered``,
  never "no gap";
* Benjamini-Hochberg across every comparison of the run, separately for the adjusted and the raw p-values;
* a status per comparison; ``warning`` (CUSUM) belongs to the decisions over time (metrics/decisions.py).

CSAT (ordinal), p95 latency and cost per request are compared too, not yet adjusted for task mix.
"""

from __future__ import annotations

import enum
import math
import warnings
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    test_proportions_2indep,
)

from metrics.dimensions import expression, fill, render
from metrics.registry import EPOCH, FAR_FUTURE
from routewatch.sqlfiles import query
from routewatch.store import Store


class Status(enum.StrEnum):
    """What a comparison says (the values of the status column)."""

    CONFIRMED = "confirmed"
    WARNING = "warning"
    EXPLAINED_BY_TASK_MIX = "explained_by_task_mix"
    UNDERPOWERED = "underpowered"
    INSUFFICIENT_DATA = "insufficient_data"
    NONRESPONSE_BIASED = "nonresponse_biased"
    EQUIVALENT = "equivalent"
    NO_EVIDENCE = "no_evidence"
    MODEL_FAILED = "model_failed"


# Each status in words a PM can forward (the dashboard and the alert emails use them).
STATUS_WORDS: dict[str, str] = {
    Status.CONFIRMED: "Real gap: beyond the margin and confirmed after correcting for every comparison.",
    Status.WARNING: "Early warning: the gap has been building up over several days; not yet confirmed.",
    Status.EXPLAINED_BY_TASK_MIX: "The raw gap comes from what this segment asks (its task mix), not from how "
    "it is served.",
    Status.UNDERPOWERED: "Too little traffic to tell a gap of the margin from noise yet.",
    Status.INSUFFICIENT_DATA: "Too few requests, users or events to judge at all.",
    Status.NONRESPONSE_BIASED: "Too few of these users rate answers (or far fewer than the reference) to trust "
    "a satisfaction gap.",
    Status.EQUIVALENT: "Served the same: any gap is within the margin.",
    Status.NO_EVIDENCE: "No evidence of a gap, but not enough to call it equivalent either.",
    Status.MODEL_FAILED: "The statistical model could not be fitted on this data (see the note).",
}

# Binary metrics: (events column, trials column) of gap_cells.
BINARY: dict[str, tuple[str, str]] = {
    "escalation_rate": ("escalated", "requests"),
    "error_rate": ("errors", "requests"),
    "resolution_rate": ("resolved", "known"),
    "thumbs_up_rate": ("thumbs_up", "rated"),
}
# Other kinds: CSAT as ordinal, p95 latency and cost per request as ratios.
ORDINAL = "csat"
LATENCY = "latency_p95"
COST = "cost_per_request"
OTHER = (ORDINAL, LATENCY, COST)
ALL_METRICS = (*BINARY, *OTHER)
CSAT_LEVELS = ["csat_1", "csat_2", "csat_3", "csat_4", "csat_5"]
COLUMNS = (
    "dimension",
    "segment",
    "reference",
    "metric",
    "value",
    "reference_value",
    "gap",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "adjusted_gap",
    "requests",
    "users",
    "status",
)


@dataclass(frozen=True, kw_only=True)
class GapSettings:
    """The knobs of a gap run; every test and interval reads its level from here."""

    q: float = 0.05  # false discovery rate across the run
    alpha: float = 0.05  # level of the displayed intervals
    # Margins: rate points for binary metrics, probability of superiority away from 0.5 for CSAT, and the
    # relative change (ratio - 1) for p95 latency and cost per request.
    delta: dict[str, float] = field(
        default_factory=lambda: {
            "escalation_rate": 0.02,
            "error_rate": 0.02,
            "resolution_rate": 0.03,
            "thumbs_up_rate": 0.03,
            "csat": 0.05,
            "latency_p95": 0.15,
            "cost_per_request": 0.10,
        }
    )
    min_requests: int = 200
    min_ratings: int = 100  # CSAT
    min_tail_requests: int = 1000  # p95: and n * 0.05 >= 50
    bootstrap_samples: int = 2000
    bootstrap_cap: int = 20_000  # requests per group sampled (whole users) for the p95 bootstrap
    seed: int = 20261122
    # The audit: the adjusted test of binary metrics becomes a logit with cluster-robust errors (slower, stronger).
    logit: bool = False
    logit_cap: int = 100_000  # requests per group in the logit (whole users, sampled by hash)
    min_task_rows: int = 50  # task types with fewer rows per group are pooled into "other"
    min_events: int = 10
    min_users: int = 30
    min_coverage: float = 0.05  # feedback: share of requests rated
    coverage_ratio: tuple[float, float] = (0.5, 2.0)
    power: float = 0.8
    reference: dict[str, str] = field(default_factory=dict)  # dimension -> reference segment


@dataclass(frozen=True)
class ClusterCounts:
    """A group's counts with the cluster-robust (linearized) variance of its rate, and Kish's effective counts."""

    events: float
    trials: float
    users: int
    rate: float
    deff: float

    @property
    def n_eff(self) -> float:
        """Effective sample size: trials over the design effect."""
        return self.trials / self.deff

    @property
    def k_eff(self) -> float:
        """Effective events: the rate times the effective sample size."""
        return self.rate * self.n_eff


def cluster_counts(events: np.ndarray, trials: np.ndarray) -> ClusterCounts:
    """Ratio estimator over users, linearization variance, design effect (at least 1)."""
    keep = trials > 0
    events, trials = events[keep].astype(float), trials[keep].astype(float)
    total, users = trials.sum(), int(keep.sum())
    if total == 0 or users < 2:
        return ClusterCounts(events.sum(), total, users, math.nan, 1.0)
    rate = events.sum() / total
    v_cluster = users / (users - 1) * np.sum((events - rate * trials) ** 2) / total**2
    v_simple = rate * (1 - rate) / total
    deff = max(1.0, v_cluster / v_simple) if v_simple > 0 else 1.0
    return ClusterCounts(events.sum(), total, users, rate, deff)


def standardized_gap(
    segment: pd.DataFrame, reference: pd.DataFrame, deff: tuple[float, float] = (1.0, 1.0)
) -> tuple[float, float, float]:
    """Direct standardization: gap at the reference's task mix, its variance, and the share of segment traffic kept.

    Both frames have one row per task type with ``k`` and ``n``. Each group's part of the variance is multiplied
    by that group's design effect (segment, reference), as its effective counts are in the raw test.
    """
    cells = segment.merge(reference, left_index=True, right_index=True, how="outer", suffixes=("_seg", "_ref"))
    cells = cells.fillna(0)
    kept = cells[(cells["n_seg"] > 0) & (cells["n_ref"] > 0)]
    if kept.empty:
        return math.nan, math.nan, 0.0
    weights = kept["n_ref"] / kept["n_ref"].sum()
    p_seg, p_ref = kept["k_seg"] / kept["n_seg"], kept["k_ref"] / kept["n_ref"]
    smooth_seg = (kept["k_seg"] + 1) / (kept["n_seg"] + 2)  # (k+1)/(n+2): a zero cell keeps its variance
    smooth_ref = (kept["k_ref"] + 1) / (kept["n_ref"] + 2)
    variance = np.sum(
        weights**2
        * (
            deff[0] * smooth_seg * (1 - smooth_seg) / kept["n_seg"]
            + deff[1] * smooth_ref * (1 - smooth_ref) / kept["n_ref"]
        )
    )
    coverage = kept["n_seg"].sum() / max(cells["n_seg"].sum(), 1)
    return float(np.sum(weights * (p_seg - p_ref))), float(variance), float(coverage)


def _gate(seg: ClusterCounts, ref: ClusterCounts, settings: GapSettings) -> Status | None:
    for group in (seg, ref):
        if group.trials < settings.min_requests or group.users < settings.min_users:
            return Status.INSUFFICIENT_DATA
        if group.events < settings.min_events or group.trials - group.events < settings.min_events:
            return Status.INSUFFICIENT_DATA
    return None


def minimum_detectable_gap(seg: ClusterCounts, ref: ClusterCounts, alpha_plan: float, power: float) -> float:
    """The smallest gap (either direction) the effective sample sizes can detect, in rate points."""
    h = NormalIndPower().solve_power(
        effect_size=None, nobs1=seg.n_eff, alpha=alpha_plan, power=power, ratio=ref.n_eff / seg.n_eff
    )
    phi = 2 * math.asin(math.sqrt(ref.rate))
    up = math.sin(min(phi + h, math.pi) / 2) ** 2 - ref.rate
    down = ref.rate - math.sin(max(phi - h, 0) / 2) ** 2
    return float(max(up, down))


def _contrast(
    dimension: str,
    metric: str,
    segment: str,
    reference: str,
    users: pd.DataFrame,
    tasks: pd.DataFrame,
    settings: GapSettings,
    family_size: int,
) -> dict[str, Any]:
    """One segment against its reference on one binary metric, before the run-wide corrections."""
    events, trials = BINARY[metric]
    seg_users, ref_users = users.loc[segment], users.loc[reference]
    seg = cluster_counts(seg_users[events].to_numpy(), seg_users[trials].to_numpy())
    ref = cluster_counts(ref_users[events].to_numpy(), ref_users[trials].to_numpy())
    row: dict[str, Any] = {
        "dimension": dimension,
        "segment": segment,
        "reference": reference,
        "metric": metric,
        "value": seg.rate,
        "reference_value": ref.rate,
        "gap": seg.rate - ref.rate,
        "requests": int(seg_users["requests"].sum()),
        "users": seg.users,
        "reference_requests": int(ref_users["requests"].sum()),
        "trials": seg.trials,
        "deff": max(seg.deff, ref.deff),
        "n_eff": seg.n_eff,
        "note": "",
    }
    gated = _gate(seg, ref, settings)
    if gated is not None:
        return {**row, "status": gated}
    delta = settings.delta[metric]
    mde = minimum_detectable_gap(seg, ref, settings.q / max(family_size, 1), settings.power)
    row["mde"] = mde
    if trials == "rated":  # thumbs: is the feedback itself representative?
        seg_coverage = seg.trials / max(row["requests"], 1)
        ref_coverage = ref.trials / max(row["reference_requests"], 1)
        ratio = seg_coverage / ref_coverage if ref_coverage else math.inf
        low, high = settings.coverage_ratio
        if min(seg_coverage, ref_coverage) < settings.min_coverage or not low <= ratio <= high:
            row["note"] = f"feedback coverage {seg_coverage:.1%} against {ref_coverage:.1%}"
            row["nonresponse"] = True
    if mde > delta:
        # Out of the family, but its estimates still feed the CUSUM and the display.
        row["status"] = Status.UNDERPOWERED
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            test = test_proportions_2indep(
                seg.k_eff, seg.n_eff, ref.k_eff, ref.n_eff, method="score", compare="diff", correction=True
            )
            low, high = confint_proportions_2indep(
                seg.k_eff, seg.n_eff, ref.k_eff, ref.n_eff, method="score", compare="diff", alpha=settings.alpha
            )
            seg_low, seg_high = proportion_confint(seg.k_eff, seg.n_eff, alpha=settings.alpha, method="wilson")
            seg_tasks = tasks.loc[segment].rename(columns={events: "k", trials: "n"})[["k", "n"]]
            ref_tasks = tasks.loc[reference].rename(columns={events: "k", trials: "n"})[["k", "n"]]
            adjusted, variance, coverage = standardized_gap(seg_tasks, ref_tasks, (seg.deff, ref.deff))
            p_adjusted_test = math.erfc(abs(adjusted) / math.sqrt(2 * variance)) if variance > 0 else math.nan
        except (Warning, ValueError, ZeroDivisionError) as exc:
            # An underpowered contrast stays underpowered; the failure is only a note then.
            return {**row, "status": row.get("status", Status.MODEL_FAILED), "note": f"{type(exc).__name__}: {exc}"}
    return {
        **row,
        "ci_low": float(low),
        "ci_high": float(high),
        "value_ci_low": float(seg_low),
        "value_ci_high": float(seg_high),
        "p_value": float(test.pvalue),
        "adjusted_gap": adjusted,
        "adjusted_se": math.sqrt(variance) if variance > 0 else math.nan,
        "p_adjusted_test": p_adjusted_test,
        "coverage": coverage,
    }


def _mean_counts(sums: np.ndarray, trials: np.ndarray) -> tuple[float, float, int]:
    """A ratio of means over users: the mean and its linearized (cluster-robust) variance."""
    keep = trials > 0
    sums, trials = sums[keep].astype(float), trials[keep].astype(float)
    users, total = int(keep.sum()), trials.sum()
    if users < 2 or total == 0:
        return math.nan, math.nan, users
    mean = sums.sum() / total
    variance = users / (users - 1) * np.sum((sums - mean * trials) ** 2) / total**2
    return float(mean), float(variance), users


def _z(level: float) -> float:
    return NormalDist().inv_cdf(level)


def _finish(
    row: dict[str, Any],
    settings: GapSettings,
    family_size: int,
    *,
    gap: float,
    ci: tuple[float, float],
    p_value: float,
    se: float,
    note: str,
    log_scale: bool = False,
) -> dict[str, Any]:
    """Fill a non-binary contrast: no task-mix adjustment yet, so the alert test is the raw one.

    With ``log_scale`` the gap is a ratio - 1 and ``se`` the standard error of the log ratio.
    """
    plan = _z(1 - settings.q / max(family_size, 1) / 2) + _z(settings.power)
    mde = math.expm1(plan * se) if log_scale else plan * se
    row.update(
        gap=gap,
        ci_low=ci[0],
        ci_high=ci[1],
        p_value=p_value,
        adjusted_gap=gap,
        adjusted_se=(1 + gap) * se if log_scale else se,
        p_adjusted_test=p_value,
        mde=mde,
        note=note,
    )
    if mde > settings.delta[row["metric"]]:
        row["status"] = Status.UNDERPOWERED
    return row


def _csat_contrast(
    row: dict[str, Any], seg: pd.DataFrame, ref: pd.DataFrame, settings: GapSettings, m: int
) -> dict[str, Any]:
    """R4: Brunner-Munzel on the rating counts (effective counts, cluster-aware); the gap is P(seg > ref) - 0.5."""
    from statsmodels.stats.nonparametric import rank_compare_2ordinal

    levels = np.arange(1, 6)
    groups = []
    for frame in (seg, ref):
        counts = frame[CSAT_LEVELS].to_numpy(float)
        sums, trials = counts @ levels, counts.sum(axis=1)
        mean, variance, raters = _mean_counts(sums, trials)
        total = counts.sum(axis=0)
        n = total.sum()
        spread = float(total @ (levels - mean) ** 2 / n) if n else math.nan
        deff = max(1.0, variance / (spread / n)) if n and spread > 0 else 1.0
        groups.append((total, n, raters, mean, deff))
    (seg_total, seg_n, seg_raters, seg_mean, seg_deff), (ref_total, ref_n, ref_raters, ref_mean, ref_deff) = groups
    row.update(value=seg_mean, reference_value=ref_mean, trials=seg_n, deff=max(seg_deff, ref_deff))
    if min(seg_n, ref_n) < settings.min_ratings or min(seg_raters, ref_raters) < settings.min_users:
        return {**row, "status": Status.INSUFFICIENT_DATA}
    result = rank_compare_2ordinal(seg_total / seg_deff, ref_total / ref_deff)
    low, high = result.conf_int(alpha=settings.alpha)
    se = (high - low) / (2 * _z(1 - settings.alpha / 2))
    p_value = float(result.test_prob_superior(value=0.5).pvalue)
    note = "gap = P(segment rates higher) - 0.5; not yet adjusted for task mix"
    return _finish(
        row, settings, m, gap=result.prob1 - 0.5, ci=(low - 0.5, high - 0.5), p_value=p_value, se=se, note=note
    )


def _cost_contrast(
    row: dict[str, Any], seg: pd.DataFrame, ref: pd.DataFrame, settings: GapSettings, m: int
) -> dict[str, Any]:
    """R5: cost per request as a ratio of means over users; the gap is ratio - 1, tested on the log scale."""
    seg_mean, seg_var, seg_users = _mean_counts(seg["cost"].to_numpy(), seg["requests"].to_numpy())
    ref_mean, ref_var, ref_users = _mean_counts(ref["cost"].to_numpy(), ref["requests"].to_numpy())
    row.update(value=seg_mean, reference_value=ref_mean)
    if (
        min(row["requests"], row["reference_requests"]) < settings.min_requests
        or min(seg_users, ref_users) < settings.min_users
        or not (seg_mean > 0 and ref_mean > 0)
    ):
        return {**row, "status": Status.INSUFFICIENT_DATA}
    log_ratio = math.log(seg_mean / ref_mean)
    se_log = math.sqrt(seg_var / seg_mean**2 + ref_var / ref_mean**2)
    p_value = math.erfc(abs(log_ratio) / (se_log * math.sqrt(2)))
    z = _z(1 - settings.alpha / 2)
    ci = (math.exp(log_ratio - z * se_log) - 1, math.exp(log_ratio + z * se_log) - 1)
    note = "gap = cost ratio - 1; not yet adjusted for task mix"
    return _finish(
        row, settings, m, gap=math.expm1(log_ratio), ci=ci, p_value=p_value, se=se_log, note=note, log_scale=True
    )


def weighted_p95_bootstrap(
    latency: np.ndarray, users: np.ndarray, samples: int, rng: np.random.Generator
) -> np.ndarray:
    """p95 of ``samples`` user-level bootstrap resamples (whole users drawn with replacement)."""
    order = np.argsort(latency, kind="stable")
    sorted_latency, sorted_users = latency[order], users[order]
    count = int(users.max()) + 1
    values = np.empty(samples)
    for start in range(0, samples, 200):
        size = min(200, samples - start)
        weights = rng.multinomial(count, np.full(count, 1 / count), size=size).astype(float)
        cumulative = np.cumsum(weights[:, sorted_users], axis=1)
        index = (cumulative < 0.95 * cumulative[:, -1:]).sum(axis=1)
        values[start : start + size] = sorted_latency[np.minimum(index, len(sorted_latency) - 1)]
    return values


def _latency_contrast(
    row: dict[str, Any], seg: pd.DataFrame, ref: pd.DataFrame, settings: GapSettings, m: int
) -> dict[str, Any]:
    """R5: p95 latency as a ratio, with a user-level cluster bootstrap of both groups' p95."""
    sizes = [
        (row["requests"], int(seg["user_id"].nunique())),
        (row["reference_requests"], int(ref["user_id"].nunique())),
    ]
    tail = [n >= settings.min_tail_requests and n * 0.05 >= 50 and users >= settings.min_users for n, users in sizes]
    if not all(tail) or seg.empty or ref.empty:
        return {**row, "status": Status.INSUFFICIENT_DATA}
    key = f"{row['dimension']}/{row['segment']}/{row['metric']}".encode()
    rng = np.random.default_rng([settings.seed, zlib.crc32(key)])
    p95 = []
    for frame in (seg, ref):
        latency = frame["latency_ms"].to_numpy(float)
        codes = pd.factorize(frame["user_id"])[0]
        point = float(np.quantile(latency, 0.95))
        p95.append((point, weighted_p95_bootstrap(latency, codes, settings.bootstrap_samples, rng)))
    (seg_p95, seg_boot), (ref_p95, ref_boot) = p95
    row.update(value=seg_p95, reference_value=ref_p95)
    log_ratios = np.log(seg_boot) - np.log(ref_boot)
    below, above = int((log_ratios <= 0).sum()), int((log_ratios >= 0).sum())
    p_value = min(1.0, 2 * (min(below, above) + 1) / (len(log_ratios) + 1))  # never exactly 0 from B draws
    low, high = np.quantile(log_ratios, [settings.alpha / 2, 1 - settings.alpha / 2])
    ratio = seg_p95 / ref_p95
    note = "gap = p95 ratio - 1 (user-level bootstrap); not yet adjusted for task mix"
    se = float(np.std(log_ratios, ddof=1))
    ci = (math.expm1(low), math.expm1(high))
    return _finish(row, settings, m, gap=ratio - 1, ci=ci, p_value=p_value, se=se, note=note, log_scale=True)


def logit_gap(
    seg_cells: pd.DataFrame, ref_cells: pd.DataFrame, events: str, trials: str, settings: GapSettings
) -> tuple[float, float, float]:
    """Task-adjusted gap from a logit of the outcome on the segment and the task type, with errors clustered by
    user: the average marginal effect of being in the segment, its standard error and p-value.

    The request-level rows are rebuilt from per-(task, user) counts; groups over ``logit_cap`` requests keep
    whole users sampled by hash. Task types with too few rows in either group are pooled into "other".
    """
    import statsmodels.formula.api as smf

    parts = []
    for flag, cells in ((1, seg_cells), (0, ref_cells)):
        cells = cells[cells[trials] > 0]
        total = int(cells[trials].sum())
        if total > settings.logit_cap:
            buckets = pd.util.hash_array(cells["user_id"].to_numpy(dtype=str)) % 1000
            cells = cells[buckets < 1000 * settings.logit_cap / total]
        trials_n = cells[trials].to_numpy(dtype=np.int64)
        index = np.repeat(np.arange(len(cells)), trials_n)
        within = np.arange(len(index)) - np.repeat(np.cumsum(trials_n) - trials_n, trials_n)
        parts.append(
            pd.DataFrame(
                {
                    "y": (within < cells[events].to_numpy(dtype=np.int64)[index]).astype(int),
                    "is_seg": flag,
                    "task_type": cells["task_type"].to_numpy()[index],
                    "user_id": cells["user_id"].to_numpy()[index],
                }
            )
        )
    rows = pd.concat(parts, ignore_index=True)
    counts = rows.groupby(["task_type", "is_seg"]).size().unstack(fill_value=0)
    small = counts[(counts.min(axis=1) < settings.min_task_rows)].index
    rows.loc[rows["task_type"].isin(small), "task_type"] = "other"
    formula = "y ~ is_seg + C(task_type)" if rows["task_type"].nunique() > 1 else "y ~ is_seg"
    result = smf.logit(formula, data=rows).fit(
        disp=False, cov_type="cluster", cov_kwds={"groups": pd.factorize(rows["user_id"])[0]}
    )
    effect = result.get_margeff(at="overall", method="dydx", dummy=True).summary_frame().loc["is_seg"]
    return float(effect["dy/dx"]), float(effect["Std. Err."]), float(effect["Pr(>|z|)"])


def _audit(row: dict[str, Any], cells: pd.DataFrame, settings: GapSettings) -> None:
    """Replace the standardized adjusted test of one binary contrast by the cluster-robust logit."""
    events, trials = BINARY[row["metric"]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            gap, se, p_value = logit_gap(
                cells[cells["segment"] == row["segment"]],
                cells[cells["segment"] == row["reference"]],
                events,
                trials,
                settings,
            )
        except (Warning, ValueError, np.linalg.LinAlgError) as exc:
            row["status"] = row.get("status", Status.MODEL_FAILED)
            row["note"] = f"logit: {type(exc).__name__}: {exc}"
            return
    row.update(standardized_gap=row["adjusted_gap"], adjusted_gap=gap, adjusted_se=se, p_adjusted_test=p_value)


def _decide(row: dict[str, Any], reject_adjusted: bool, reject_raw: bool, settings: GapSettings) -> Status:
    """The verdict, from the raw and the adjusted test; the practical margin is part of every verdict."""
    delta = settings.delta[row["metric"]]
    adjusted, raw = row["adjusted_gap"], row["gap"]
    if row.get("nonresponse"):
        return Status.NONRESPONSE_BIASED
    if reject_adjusted and abs(adjusted) >= delta:
        if not reject_raw:
            row["note"] = "masked gap: the raw rates hide it (task mix)"
        elif math.copysign(1, raw) != math.copysign(1, adjusted):
            row["note"] = "reversal: the raw gap points the other way (task mix); for human review"
        return Status.CONFIRMED
    if reject_raw and abs(raw) >= delta:
        if reject_adjusted and math.copysign(1, raw) != math.copysign(1, adjusted):
            row["note"] = f"within each task type the gap is {adjusted:+.1%}, the other way"
        return Status.EXPLAINED_BY_TASK_MIX
    # Equivalent when the (1 - 2 alpha) interval of the adjusted gap lies inside the margin (TOST).
    half_width = NormalDist().inv_cdf(1 - settings.alpha) * row["adjusted_se"]
    if -delta < adjusted - half_width and adjusted + half_width < delta:
        return Status.EQUIVALENT
    return Status.NO_EVIDENCE


def _other_contrast(
    dimension: str,
    metric: str,
    segment: str,
    reference: str,
    users: pd.DataFrame,
    latency: pd.DataFrame | None,
    settings: GapSettings,
    family_size: int,
) -> dict[str, Any]:
    """One segment against its reference on CSAT, p95 latency or cost per request."""
    seg, ref = users.loc[segment], users.loc[reference]
    row: dict[str, Any] = {
        "dimension": dimension,
        "segment": segment,
        "reference": reference,
        "metric": metric,
        "requests": int(seg["requests"].sum()),
        "users": len(seg),
        "reference_requests": int(ref["requests"].sum()),
        "note": "",
    }
    if metric == ORDINAL:
        return _csat_contrast(row, seg, ref, settings, family_size)
    if metric == COST:
        return _cost_contrast(row, seg, ref, settings, family_size)
    if latency is None:
        return {**row, "status": Status.INSUFFICIENT_DATA, "note": "no latency sample"}
    return _latency_contrast(
        row, latency[latency["segment"] == segment], latency[latency["segment"] == reference], settings, family_size
    )


def _false_coverage_intervals(tested: list[dict[str, Any]], selected: int, settings: GapSettings) -> None:
    """Intervals for the selected (rejected) contrasts at level 1 - R q / m (Benjamini-Yekutieli FCR), so the
    winners' intervals are not too optimistic; ``critical`` when such an interval lies wholly beyond the margin.
    """
    if not selected:
        return
    alpha = selected * settings.q / len(tested)
    z = _z(1 - alpha / 2)
    for row in tested:
        if row["p_adjusted"] >= settings.q:
            continue
        low, high = row["adjusted_gap"] - z * row["adjusted_se"], row["adjusted_gap"] + z * row["adjusted_se"]
        row["fcr_ci_low"], row["fcr_ci_high"] = low, high
        if row["status"] == Status.CONFIRMED:
            delta = settings.delta[row["metric"]]
            row["severity"] = "critical" if low > delta or high < -delta else "high"


def gap_table_from_cells(
    cells_by_dimension: dict[str, pd.DataFrame],
    settings: GapSettings,
    metrics: list[str] | None = None,
    latency_by_dimension: dict[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Every segment of every dimension against its reference on each metric, with BH across the run.

    Each frame has one row per (segment, task_type, user_id) with the count columns of sql/queries/gap_cells.sql
    (or its ``groups`` grain, unless the logit audit needs the cells);
    p95 latency also needs request-level samples (sql/queries/gap_latency_sample.sql) per dimension. The run's
    family is every comparison made here, so ``metrics`` narrows the family, not just the output.
    """
    chosen = metrics or list(BINARY)
    unknown = sorted(set(chosen) - set(ALL_METRICS))
    if unknown:
        raise ValueError(f"no gap test for {unknown}: choose from {', '.join(ALL_METRICS)}")
    plans: list[tuple[str, str, str, str, pd.DataFrame, pd.DataFrame]] = []
    for dimension, cells in cells_by_dimension.items():
        if cells.empty:
            continue
        users, tasks = _users_and_tasks(cells)
        volume = users.groupby(level="segment")["requests"].sum()
        reference = settings.reference.get(dimension) or str(volume.idxmax())
        if reference not in volume.index:
            continue  # R1/R9: never switch the reference silently; the caller logs the skip
        for segment in volume.index:
            if segment != reference:
                plans.extend((dimension, metric, str(segment), reference, users, tasks) for metric in chosen)
    latency = latency_by_dimension or {}
    rows = [
        _contrast(dimension, metric, segment, reference, users, tasks, settings, len(plans))
        if metric in BINARY
        else _other_contrast(dimension, metric, segment, reference, users, latency.get(dimension), settings, len(plans))
        for dimension, metric, segment, reference, users, tasks in plans
    ]
    if settings.logit:
        for row in rows:
            if row["metric"] in BINARY and "adjusted_gap" in row and row.get("status") != Status.INSUFFICIENT_DATA:
                _audit(row, cells_by_dimension[row["dimension"]], settings)
    tested = [r for r in rows if "status" not in r and not math.isnan(r["p_adjusted_test"])]
    if tested:
        _, bh_adjusted, _, _ = multipletests([r["p_adjusted_test"] for r in tested], alpha=settings.q, method="fdr_bh")
        _, bh_raw, _, _ = multipletests([r["p_value"] for r in tested], alpha=settings.q, method="fdr_bh")
        for row, p_adj, p_raw in zip(tested, bh_adjusted, bh_raw, strict=True):
            row["p_adjusted"], row["p_raw_adjusted"] = float(p_adj), float(p_raw)
            row["status"] = _decide(row, p_adj < settings.q, p_raw < settings.q, settings)
        _false_coverage_intervals(tested, int((bh_adjusted < settings.q).sum()), settings)
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    table["status"] = table["status"].map(lambda s: Status(s).value)
    extra = [c for c in table.columns if c not in COLUMNS and c != "nonresponse"]
    return table.reindex(columns=[*COLUMNS, *extra])


# The grains gap_cells can return: (SQL for the grain column, GROUP BY keys).
GRAINS = {
    "cell": ("'cell'", "segment, task_type, user_id"),
    "groups": (
        "if(grouping(user_id) = 0, 'user', 'task')",
        "GROUPING SETS ((segment, user_id), (segment, task_type))",
    ),
}


def _segment_query(
    name: str, dimension: str, where: dict[str, str] | None, params: dict[str, Any], grain: str = "cell"
) -> str:
    """A gap query with its segment, filter and grain slots filled (identifiers allow-listed, values bound)."""
    rendered = render([], where or {})
    params.update(rendered.params)
    column, keys = GRAINS[grain]
    sql = query(name).text.replace("{{modal}}", query("gap_modal_segment").text.replace("\n", "\n    "))
    sql = fill(sql, rendered).replace("{{grain_column}}", column).replace("{{grain_keys}}", keys)
    return sql.replace("{{segment}}", expression(dimension, "segment_key", params))


def _users_and_tasks(cells: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (segment, user) and per (segment, task_type) sums, from cells of either grain."""
    if "grain" in cells and (cells["grain"] != "cell").any():
        users = cells[cells["grain"] == "user"].drop(columns=["grain", "task_type"])
        tasks = cells[cells["grain"] == "task"].drop(columns=["grain", "user_id"])
        return users.set_index(["segment", "user_id"]), tasks.set_index(["segment", "task_type"])
    cells = cells.drop(columns="grain", errors="ignore")
    users = cells.groupby(["segment", "user_id"]).sum(numeric_only=True)
    return users, cells.groupby(["segment", "task_type"]).sum(numeric_only=True)


def load_cells(
    store: Store,
    dimension: str,
    since: datetime | None = None,
    until: datetime | None = None,
    where: dict[str, str] | None = None,
    grain: str = "cell",
) -> pd.DataFrame:
    """Per-(segment, task_type, user) counts for one allow-listed dimension (or, with grain ``groups``, the
    per-user and per-task sums the tests need: far fewer rows to move)."""
    params: dict[str, Any] = {"since": since or EPOCH, "until": until or FAR_FUTURE}
    return store.query_df(_segment_query("gap_cells", dimension, where, params, grain), params)


def load_latency(
    store: Store,
    dimension: str,
    cells: pd.DataFrame,
    cap: int,
    since: datetime | None,
    until: datetime | None,
    where: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Latencies of whole users sampled by hash, about ``cap`` requests per segment."""
    volume = _users_and_tasks(cells)[0].groupby(level="segment")["requests"].sum()
    share = {str(k): int(min(100, max(1, math.ceil(100 * cap / max(v, 1))))) for k, v in volume.items()}
    params: dict[str, Any] = {
        "since": since or EPOCH,
        "until": until or FAR_FUTURE,
        "segments": list(share),
        "shares": list(share.values()),
    }
    return store.query_df(_segment_query("gap_latency_sample", dimension, where, params), params)


def gap_table(
    store: Store,
    dimensions: list[str],
    settings: GapSettings | None = None,
    *,
    metrics: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    where: dict[str, str] | None = None,
) -> pd.DataFrame:
    """The gap table of ``dimensions`` over a time range (all binary metrics unless ``metrics`` narrows it).

    ``where`` keeps only the requests of a cut (a router version, a tier, ...), as in ``metrics.registry``.
    """
    settings = settings or GapSettings()
    grain = "cell" if settings.logit else "groups"  # the logit audit fits on the cells
    cells = {d: load_cells(store, d, since, until, where, grain) for d in dimensions}
    latency = None
    if metrics and LATENCY in metrics:
        latency = {d: load_latency(store, d, cells[d], settings.bootstrap_cap, since, until, where) for d in dimensions}
    return gap_table_from_cells(cells, settings, metrics, latency)


def traffic_to_decide(table: pd.DataFrame, settings: GapSettings | None = None) -> pd.Series:
    """For each ``underpowered`` comparison, about how many more requests of the segment would let it decide.

    The smallest detectable gap shrinks as 1/sqrt(n), so reaching the margin takes (mde / margin)^2 times the
    traffic. NaN for every other status.
    """
    settings = settings or GapSettings()
    if table.empty or "mde" not in table:
        return pd.Series(np.nan, index=table.index, dtype=float)
    margin = table["metric"].map(settings.delta).astype(float)
    factor = (table["mde"].astype(float) / margin) ** 2
    more = np.ceil(table["requests"].astype(float) * (factor - 1)).clip(lower=0)
    return more.where(table["status"] == Status.UNDERPOWERED.value)

"""Segment gaps: is a segment really served worse than its reference, or is it noise?

The method (the parts that need no history): every segment is compared with a
reference segment (the largest by volume unless configured), with

* gates on sample size that look only at n, never at the gap;
* cluster-aware counts: requests cluster in users, so the variance is the linearized (cluster-robust) one and
  the statsmodels tests get Kish's effective counts;
* Wilson intervals per segment, the Miettinen-Nurminen score test and its matching interval for the gap;
* a task-mix-adjusted gap (metrics.adjust), the alert test: direct standardization to the reference's task mix
  in every window, or with ``audit`` (the weekly audit) a model with errors clustered by user; the raw gap can
  mislead when segments ask different things (Simpson);
* gates that look only at the number of requests, users and ratings (never at a count of events: a segment that
  is never escalated is the worst case, not a small one); a group with no events (or only events) borrows the
  design effect of the pooled groups, which it cannot estimate itself;
* Benjamini-Hochberg across every comparison that passed the gates, separately for the adjusted and the raw
  p-values; power is not a gate: the smallest detectable gap at the planning level q/m labels a comparison whose
  test does not reject ``underpowered`` (never "no gap"), and a rejected one is judged on its evidence;
* a status per comparison; ``warning`` (CUSUM) belongs to the decisions over time (alerts/judge.py).

Binary metrics use the score test; CSAT is compared as ordinal (Brunner-Munzel), p95 latency and cost per
request as ratios (a user-level bootstrap, a linearized ratio of means).
"""

from __future__ import annotations

import enum
import math
import re
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from metrics.adjust import (
    CSAT_LEVELS,
    Adjusted,
    gamma_cost_gap,
    logit_gap,
    normal_p_value,
    ordinal_gap,
    p95_task_weights,
    quantile_latency_gap,
    standardized_cost_ratio,
    standardized_csat_gap,
    standardized_rate_gap,
    unit_rows,
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
    Status.UNDERPOWERED: "No gap shown yet, and too little traffic to rule out one of the margin: more traffic "
    "would decide it.",
    Status.INSUFFICIENT_DATA: "Too few requests, users or ratings to test at all.",
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
# Every ratio of per-user sums whose cluster-robust variance a test needs: numerator -> denominator.
RATIOS: dict[str, str] = {
    **dict(BINARY.values()),
    "cost": "requests",  # cost per request
    "csat_sum": "csat_n",  # mean CSAT
}
# Other kinds: CSAT as ordinal, p95 latency and cost per request as ratios.
ORDINAL = "csat"
LATENCY = "latency_p95"
COST = "cost_per_request"
OTHER = (ORDINAL, LATENCY, COST)
ALL_METRICS = (*BINARY, *OTHER)
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
    # The audit: the adjusted test becomes a model with errors clustered by user (slower, stronger).
    audit: bool = False
    audit_cap: int = 100_000  # requests per group in the logit and ordinal logit (whole users, sampled by hash)
    quantreg_per_user: int = 5  # requests per user in the audit's quantile regression of p95 latency
    min_task_rows: int = 50  # task types with fewer rows per group are pooled into "other"
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
    effective_users: float = math.inf

    @property
    def n_eff(self) -> float:
        """Effective sample size: trials over the design effect."""
        return self.trials / self.deff

    @property
    def k_eff(self) -> float:
        """Effective events: the rate times the effective sample size."""
        return self.rate * self.n_eff


# Told of long work: (stage, done, total).
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Group:
    """One segment: its sums and their moments over users (a row of ``segment_moments``), and its sums per task
    type."""

    moments: pd.Series
    tasks: pd.DataFrame


@dataclass(frozen=True)
class DimensionSums:
    """One dimension's sums: per segment with their moments over users (``segment_moments``), and per (segment,
    task type), as a frame and, for the standardization of every binary contrast, as arrays (segments x task types,
    the same task types in every row) that need no pandas indexing."""

    moments: pd.DataFrame
    tasks: pd.DataFrame
    task_arrays: dict[str, np.ndarray]
    rows: dict[str, int]

    @classmethod
    def of(cls, cells: pd.DataFrame) -> DimensionSums:
        """From rows of any grain of gap_cells or from gap_moments."""
        moments, tasks = _moments_and_tasks(cells)
        wide = tasks.unstack("task_type", fill_value=0).reindex(moments.index, fill_value=0)
        arrays = {column: wide[column].to_numpy(float) for column in tasks.columns}
        return cls(moments, tasks, arrays, {str(segment): row for row, segment in enumerate(wide.index)})

    def by_task(self, segment: str, events: str, trials: str) -> tuple[np.ndarray, np.ndarray]:
        """A segment's events and trials per task type."""
        row = self.rows[segment]
        return self.task_arrays[events][row], self.task_arrays[trials][row]

    def group(self, segment: str) -> Group:
        """A segment's moments and sums per task type."""
        return Group(self.moments.loc[segment], self.tasks.loc[segment])


def segment_moments(users: pd.DataFrame) -> pd.DataFrame:
    """Per segment, from per-(segment, user) sums: the sums, the users, and the sums over users of the squares and
    cross-products that the cluster-robust variances need, as sql/queries/gap_moments.sql computes them in the
    store (the columns it names)."""
    if "csat_1" in users and "csat_sum" not in users:
        levels = users[CSAT_LEVELS]
        users = users.assign(csat_sum=levels @ np.arange(1, 6), csat_n=levels.sum(axis=1))
    parts = {column: users[column] for column in users.columns}
    parts["users"] = pd.Series(1, index=users.index)
    for events, trials in RATIOS.items():
        if events in users:
            parts[f"sq_{events}"] = users[events] * users[events]
            parts[f"{events}_x_{trials}"] = users[events] * users[trials]
            parts[f"sq_{trials}"] = users[trials] * users[trials]
            parts[f"users_{trials}"] = (users[trials] > 0).astype("uint64")
    if "cost_within" in users:
        parts["sq_cost_within"] = users["cost_within"] ** 2
    return pd.DataFrame(parts).groupby(level="segment").sum()


def _exact(value: Any) -> int | float:
    """A moment as a Python number: integer counts stay exact integers."""
    return int(value) if isinstance(value, int | np.integer) else float(value)


def _mean_counts(moments: pd.Series, events: str, trials: str) -> tuple[float, float, int]:
    """A ratio of means over users, sum(events) / sum(trials), and its linearized (cluster-robust) variance
    n / (n - 1) * sum_i (events_i - mean * trials_i)^2 / sum(trials)^2 over the n users with trials, from the
    segment's moments (exact for integer counts)."""
    users = int(moments[f"users_{trials}"])
    k, n = _exact(moments[events]), _exact(moments[trials])
    if users < 2 or n == 0:
        return math.nan, math.nan, users
    sq_k, k_n, sq_n = (_exact(moments[c]) for c in (f"sq_{events}", f"{events}_x_{trials}", f"sq_{trials}"))
    residuals = (n * n * sq_k - 2 * k * n * k_n + k * k * sq_n) / (n * n)
    return k / n, users / (users - 1) * max(float(residuals), 0.0) / float(n) ** 2, users


def effective_users(moments: pd.Series, trials: str) -> float:
    """Kish's effective number of users of a group, (sum_i n_i)^2 / sum_i n_i^2 over its users' trials: as many
    as it has when they send alike, about 3 when three accounts send nearly everything. It depends on the counts
    only, never on the outcome, so it can gate a test (STATISTICS.md R2, independent units)."""
    total, squares = float(moments[trials]), float(moments[f"sq_{trials}"])
    return total * total / squares if squares > 0 else 0.0


def cluster_counts(moments: pd.Series, events: str, trials: str) -> ClusterCounts:
    """Ratio estimator over users, linearization variance, design effect (at least 1)."""
    rate, v_cluster, users = _mean_counts(moments, events, trials)
    k, total = float(moments[events]), float(moments[trials])
    units = effective_users(moments, trials)
    if math.isnan(rate):
        return ClusterCounts(k, total, users, math.nan, 1.0, units)
    v_simple = rate * (1 - rate) / total
    deff = max(1.0, v_cluster / v_simple) if v_simple > 0 else 1.0
    return ClusterCounts(k, total, users, rate, deff, units)


def pooled_design_effect(groups: tuple[pd.Series, ...], events: str, trials: str) -> float:
    """The design effect of groups pooled: the sum of their cluster-robust residual sums of squares (each around
    its own rate) over the sum of their binomial variances, at least 1. A group with no events or only events adds
    nothing to either, so a contrast with such a group borrows the other's clustering (STATISTICS.md R2: its own
    design effect cannot be estimated from it)."""
    residual, binomial = 0.0, 0.0
    for moments in groups:
        rate, v_cluster, _ = _mean_counts(moments, events, trials)
        if math.isnan(rate):
            continue
        total = float(moments[trials])
        residual += v_cluster * total * total
        binomial += rate * (1 - rate) * total
    return max(1.0, residual / binomial) if binomial > 0 else 1.0


def volume_gate(
    groups: dict[str, tuple[float, float, float]],
    settings: GapSettings,
    least: int | None = None,
    unit: str = "requests",
) -> str | None:
    """R2: why a contrast is too small to test, or None. ``groups`` maps each group's name to its (trials, users,
    effective users); a group needs ``least`` trials (by default ``min_requests``) and ``min_users`` users, counted
    both as distinct and as effective users. Never a count of events, which depends on the outcome."""
    least = settings.min_requests if least is None else least
    for name, (trials, users, effective) in groups.items():
        if trials < least:
            return f"{name}: {trials:,.0f} {unit}, under the {least:,} a test needs"
        if users < settings.min_users:
            return f"{name}: {users:,.0f} users, under the {settings.min_users} a test needs"
        if effective < settings.min_users:
            return (
                f"{name}: {users:,.0f} users but {effective:.1f} effective ones (a few send most of the traffic), "
                f"under the {settings.min_users} a test needs"
            )
    return None


def detectable_effect(nobs1: float, nobs2: float, alpha: float, power: float) -> float:
    """Cohen's h that a two-sided normal test at ``alpha`` detects with ``power``: what statsmodels' NormalIndPower
    solve_power finds by bracketing, here by Newton's method from the closed form that ignores the far tail (50
    times faster, and the gap table needs it for every contrast)."""
    unit, root = NormalDist(), math.sqrt(1 / (1 / nobs1 + 1 / nobs2))
    crit = _z(1 - alpha / 2)
    h = (crit + _z(power)) / root
    for _ in range(20):
        achieved = unit.cdf(h * root - crit) + unit.cdf(-h * root - crit)
        step = (achieved - power) / (root * (unit.pdf(h * root - crit) - unit.pdf(-h * root - crit)))
        h -= step
        if abs(step) <= 1e-12 * h:
            break
    return h


def _score_variance(count1: float, nobs1: float, count0: float, nobs0: float, diff: float) -> float:
    """The variance of p1 - p0 under p1 - p0 = diff, at the restricted maximum likelihood (Miettinen and Nurminen's
    cubic, solved in closed form), with their small-sample correction N / (N - 1).

    statsmodels' score test writes the same cubic with ``count0`` where ``nobs0`` belongs in its linear
    coefficient (statsmodels issue 10269): its restricted estimate then misses the likelihood's maximum, its
    intervals are off, and for a segment far below its reference the root leaves its domain and it fails.
    """
    nobs, count = nobs1 + nobs0, count1 + count0
    if diff == 0:
        prop0 = prop1 = count / nobs
    else:
        tmp3 = nobs
        tmp2 = (nobs1 + 2 * nobs0) * diff - nobs - count
        tmp1 = (nobs0 * diff - nobs - 2 * count0) * diff + count
        tmp0 = count0 * diff * (1 - diff)
        q = (tmp2 / (3 * tmp3)) ** 3 - tmp1 * tmp2 / (6 * tmp3**2) + tmp0 / (2 * tmp3)
        p = math.copysign(math.sqrt((tmp2 / (3 * tmp3)) ** 2 - tmp1 / (3 * tmp3)), q)
        # The cubic has three real roots, so |q / p^3| <= 1 but for rounding.
        a = (math.pi + math.acos(min(1.0, max(-1.0, q / p**3)))) / 3
        prop0 = 2 * p * math.cos(a) - tmp2 / (3 * tmp3)
        prop1 = prop0 + diff
    return (prop1 * (1 - prop1) / nobs1 + prop0 * (1 - prop0) / nobs0) * nobs / (nobs - 1)


def score_test(count1: float, nobs1: float, count0: float, nobs0: float) -> float:
    """Two-sided p-value of p1 = p0 by the Miettinen-Nurminen score test (with the correction), as statsmodels'
    ``test_proportions_2indep(method="score", correction=True)`` gives it, and also where that one divides by zero
    (a group with no events or only events). Groups that both have none (or both only events) give 1."""
    variance = _score_variance(count1, nobs1, count0, nobs0, 0.0)
    estimate = count1 / nobs1 - count0 / nobs0
    if variance <= 0:
        return 1.0
    return math.erfc(abs(estimate) / math.sqrt(2 * variance))


def score_interval(count1: float, nobs1: float, count0: float, nobs0: float, alpha: float) -> tuple[float, float]:
    """The score interval of p1 - p0 (Miettinen-Nurminen, with the correction): the differences whose score test
    does not reject at ``alpha``, found on each side of the estimate by Brent's method. The score statistic grows
    without bound towards -1 and 1, so (-1, estimate) and (estimate, 1) always hold one bound each."""
    estimate = count1 / nobs1 - count0 / nobs0
    crit = _z(1 - alpha / 2)

    def excess(diff: float) -> float:  # |z| - crit: zero at each bound
        if diff == estimate:  # no variance left when both groups have no events (or only events)
            return -crit
        return abs(estimate - diff) / math.sqrt(_score_variance(count1, nobs1, count0, nobs0, diff)) - crit

    edge = 1 - 1e-9
    return float(brentq(excess, -edge, estimate)), float(brentq(excess, estimate, edge))


def minimum_detectable_gap(seg: ClusterCounts, ref: ClusterCounts, alpha_plan: float, power: float) -> float:
    """The smallest gap (either direction) the effective sample sizes can detect, in rate points."""
    h = detectable_effect(seg.n_eff, ref.n_eff, alpha_plan, power)
    phi = 2 * math.asin(math.sqrt(ref.rate))
    up = math.sin(min(phi + h, math.pi) / 2) ** 2 - ref.rate
    down = ref.rate - math.sin(max(phi - h, 0) / 2) ** 2
    return float(max(up, down))


def _contrast(
    dimension: str,
    metric: str,
    segment: str,
    reference: str,
    sums: DimensionSums,
    settings: GapSettings,
    family_size: int,
) -> dict[str, Any]:
    """One segment against its reference on one binary metric, before the run-wide corrections."""
    events, trials = BINARY[metric]
    seg_moments, ref_moments = sums.moments.loc[segment], sums.moments.loc[reference]
    seg = cluster_counts(seg_moments, events, trials)
    ref = cluster_counts(ref_moments, events, trials)
    row: dict[str, Any] = {
        "dimension": dimension,
        "segment": segment,
        "reference": reference,
        "metric": metric,
        "value": seg.rate,
        "reference_value": ref.rate,
        "gap": seg.rate - ref.rate,
        "requests": int(seg_moments["requests"]),
        "users": seg.users,
        "reference_requests": int(ref_moments["requests"]),
        "trials": seg.trials,
        "deff": max(seg.deff, ref.deff),
        "n_eff": seg.n_eff,
        "note": "",
    }
    gated = volume_gate(
        {
            name: (group.trials, group.users, group.effective_users)
            for name, group in ((segment, seg), (reference, ref))
        },
        settings,
        unit=trials,
    )
    if gated is not None:
        return {**row, "status": Status.INSUFFICIENT_DATA, "note": gated}
    flat = [name for group, name in ((seg, segment), (ref, reference)) if group.rate in (0.0, 1.0)]
    if flat:  # R2: no variation to estimate a design effect from, so borrow the pooled groups'
        deff = pooled_design_effect((seg_moments, ref_moments), events, trials)
        seg, ref = (replace(group, deff=deff) if group.rate in (0.0, 1.0) else group for group in (seg, ref))
        row.update(deff=max(seg.deff, ref.deff), n_eff=seg.n_eff)
        row["note"] = f"no variation in {events} in {' and '.join(flat)}: the design effect is the pooled groups'"
    row["mde"] = minimum_detectable_gap(seg, ref, settings.q / max(family_size, 1), settings.power)
    if trials == "rated":  # thumbs: is the feedback itself representative?
        seg_coverage = seg.trials / max(row["requests"], 1)
        ref_coverage = ref.trials / max(row["reference_requests"], 1)
        ratio = seg_coverage / ref_coverage if ref_coverage else math.inf
        low, high = settings.coverage_ratio
        if min(seg_coverage, ref_coverage) < settings.min_coverage or not low <= ratio <= high:
            row["note"] = _join(row["note"], f"feedback coverage {seg_coverage:.1%} against {ref_coverage:.1%}")
            row["nonresponse"] = True
    counts = (seg.k_eff, seg.n_eff, ref.k_eff, ref.n_eff)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            p_value = score_test(*counts)
            low, high = score_interval(*counts, settings.alpha)
            seg_low, seg_high = proportion_confint(seg.k_eff, seg.n_eff, alpha=settings.alpha, method="wilson")
            seg_tasks, ref_tasks = (sums.by_task(s, events, trials) for s in (segment, reference))
            adjusted = standardized_rate_gap(seg_tasks, ref_tasks, (seg.deff, ref.deff))
            if adjusted is None:  # no task type in both groups: the raw test is the alert test
                se = math.sqrt(_score_variance(*counts, row["gap"]))
                adjusted = Adjusted(row["gap"], se, p_value, 0.0)
                row["note"] = _join(row["note"], "not adjusted for task mix (no task type in both groups)")
        except (Warning, ValueError, ZeroDivisionError) as exc:
            return {**row, "status": Status.MODEL_FAILED, "note": _join(row["note"], f"{type(exc).__name__}: {exc}")}
    return {
        **row,
        "ci_low": float(low),
        "ci_high": float(high),
        "value_ci_low": float(seg_low),
        "value_ci_high": float(seg_high),
        "p_value": p_value,
        "adjusted_gap": adjusted.gap,
        "adjusted_se": adjusted.se,
        "p_adjusted_test": adjusted.p_value,
        "coverage": adjusted.coverage,
    }


def _join(note: str, more: str) -> str:
    """A note with one more clause."""
    return f"{note}; {more}" if note else more


def _z(level: float) -> float:
    return NormalDist().inv_cdf(level)


def _finish(
    row: dict[str, Any],
    settings: GapSettings,
    family_size: int,
    *,
    raw: Adjusted,
    ci: tuple[float, float],
    adjusted: Adjusted | None,
    log_scale: bool = False,
) -> dict[str, Any]:
    """Fill a non-binary contrast from its raw test and its task-adjusted one (the alert test).

    With ``log_scale`` the gaps are ratios - 1 and the standard errors those of the log ratios.
    """
    plan = _z(1 - settings.q / max(family_size, 1) / 2) + _z(settings.power)
    mde = math.expm1(plan * raw.se) if log_scale else plan * raw.se
    if adjusted is None:
        adjusted = raw
        row["note"] = _join(row["note"], "not adjusted for task mix (no task type in both groups)")
    row.update(
        gap=raw.gap,
        ci_low=ci[0],
        ci_high=ci[1],
        p_value=raw.p_value,
        adjusted_gap=adjusted.gap,
        adjusted_se=adjusted.gap_se(log_scale),
        p_adjusted_test=adjusted.p_value,
        coverage=adjusted.coverage,
        mde=mde,
    )
    return row


def _csat_contrast(row: dict[str, Any], seg: Group, ref: Group, settings: GapSettings, m: int) -> dict[str, Any]:
    """R4: Brunner-Munzel on the rating counts (effective counts, cluster-aware); the gap is P(seg > ref) - 0.5,
    standardized to the reference's task mix for the alert test."""
    from statsmodels.stats.nonparametric import rank_compare_2ordinal

    levels = np.arange(1, 6)
    groups = []
    for group in (seg, ref):
        mean, variance, raters = _mean_counts(group.moments, "csat_sum", "csat_n")
        total = group.moments[CSAT_LEVELS].to_numpy(float)
        n = total.sum()
        spread = float(total @ (levels - mean) ** 2 / n) if n else math.nan
        deff = max(1.0, variance / (spread / n)) if n and spread > 0 else 1.0
        groups.append((total, n, raters, mean, deff))
    (seg_total, seg_n, seg_raters, seg_mean, seg_deff), (ref_total, ref_n, ref_raters, ref_mean, ref_deff) = groups
    row.update(value=seg_mean, reference_value=ref_mean, trials=seg_n, deff=max(seg_deff, ref_deff))
    gated = volume_gate(
        {
            name: (n, raters, effective_users(group.moments, "csat_n"))
            for name, n, raters, group in (
                (row["segment"], seg_n, seg_raters, seg),
                (row["reference"], ref_n, ref_raters, ref),
            )
        },
        settings,
        settings.min_ratings,
        "ratings",
    )
    if gated is not None:
        return {**row, "status": Status.INSUFFICIENT_DATA, "note": gated}
    with np.errstate(divide="ignore", invalid="ignore"):  # one rating level in both groups: no variance at all
        result = rank_compare_2ordinal(seg_total / seg_deff, ref_total / ref_deff)
        low, high = result.conf_int(alpha=settings.alpha)
        p_value = float(result.test_prob_superior(value=0.5).pvalue)
    if not np.isfinite(p_value):
        return {**row, "status": Status.MODEL_FAILED, "note": "every rating is the same level in both groups"}
    se = (high - low) / (2 * _z(1 - settings.alpha / 2))
    raw = Adjusted(result.prob1 - 0.5, se, p_value)
    adjusted = standardized_csat_gap(seg.tasks, ref.tasks, (seg_deff, ref_deff))
    row["note"] = "gap = P(segment rates higher) - 0.5"
    return _finish(row, settings, m, raw=raw, ci=(low - 0.5, high - 0.5), adjusted=adjusted)


def _within_task_design_effect(group: Group) -> float:
    """Kish's design effect of cost per request within task types: the cluster-robust variance of the users'
    residuals from their segment's task means, over the same residuals' variance as if requests were independent.
    The spread between task types, which standardization removes, stays out of both."""
    tasks = group.tasks[group.tasks["requests"] > 0]
    within = float((tasks["cost_sq"] - tasks["cost"] ** 2 / tasks["requests"]).clip(lower=0).sum())
    users = int(group.moments["users"])
    if users < 2 or within <= 0:
        return 1.0
    return max(1.0, users / (users - 1) * float(group.moments["sq_cost_within"]) / within)


def _cost_contrast(row: dict[str, Any], seg: Group, ref: Group, settings: GapSettings, m: int) -> dict[str, Any]:
    """R5: cost per request as a ratio of means over users; the gap is ratio - 1, tested on the log scale, and
    standardized to the reference's task mix for the alert test."""
    seg_mean, seg_var, seg_users = _mean_counts(seg.moments, "cost", "requests")
    ref_mean, ref_var, ref_users = _mean_counts(ref.moments, "cost", "requests")
    row.update(value=seg_mean, reference_value=ref_mean)
    gated = volume_gate(
        {
            row["segment"]: (row["requests"], seg_users, effective_users(seg.moments, "requests")),
            row["reference"]: (row["reference_requests"], ref_users, effective_users(ref.moments, "requests")),
        },
        settings,
    )
    if gated is not None:
        return {**row, "status": Status.INSUFFICIENT_DATA, "note": gated}
    if not (seg_mean > 0 and ref_mean > 0):
        unpriced = row["segment"] if not seg_mean > 0 else row["reference"]
        return {
            **row,
            "status": Status.MODEL_FAILED,
            "note": f"no spend recorded for {unpriced}: a cost ratio needs some",
        }
    log_ratio = math.log(seg_mean / ref_mean)
    se_log = math.sqrt(seg_var / seg_mean**2 + ref_var / ref_mean**2)
    z = _z(1 - settings.alpha / 2)
    ci = (math.exp(log_ratio - z * se_log) - 1, math.exp(log_ratio + z * se_log) - 1)
    deff = (_within_task_design_effect(seg), _within_task_design_effect(ref))
    row.update(note="gap = cost ratio - 1", deff=max(deff))
    raw = Adjusted(math.expm1(log_ratio), se_log, normal_p_value(log_ratio, se_log))
    adjusted = standardized_cost_ratio(seg.tasks, ref.tasks, deff)
    return _finish(row, settings, m, raw=raw, ci=ci, adjusted=adjusted, log_scale=True)


def weighted_p95_bootstrap(
    latency: np.ndarray,
    users: np.ndarray,
    samples: int,
    rng: np.random.Generator,
    row_weights: tuple[np.ndarray | None, ...] = (None,),
) -> np.ndarray:
    """p95 of ``samples`` user-level bootstrap resamples (whole users drawn with replacement), one row per entry of
    ``row_weights``: fixed weights per request (the task-mix standardization) on top of the resampling, or None.
    The same resamples serve every weighting.

    A resample's p95 is the first latency whose weighted cumulative share reaches 95%, that is the last one with
    more than 5% of the weight strictly above it. Only the top fifth of the latencies is summed; a resample whose
    top fifth holds no more than 5% of its weight (rare) is summed in full.
    """
    order = np.argsort(latency, kind="stable")
    sorted_latency, sorted_users = latency[order], users[order]
    fixed = [np.ones(len(latency)) if w is None else w[order].astype(float) for w in row_weights]
    count, rows = int(users.max()) + 1, len(latency)
    tail = max(1, rows // 5)
    top_users = sorted_users[rows - tail :]
    values = np.empty((len(fixed), samples))
    for start in range(0, samples, 200):
        size = min(200, samples - start)
        draws = rng.multinomial(count, np.full(count, 1 / count), size=size).astype(float)
        for i, weights in enumerate(fixed):
            total = draws @ np.bincount(sorted_users, weights, minlength=count)
            above = np.cumsum((draws[:, top_users] * weights[rows - tail :])[:, ::-1], axis=1)[:, ::-1]
            index = rows - tail + (above[:, 1:] > 0.05 * total[:, None]).sum(axis=1)
            short = np.flatnonzero(above[:, 0] <= 0.05 * total)
            if len(short):
                cumulative = np.cumsum(draws[short][:, sorted_users] * weights, axis=1)
                index[short] = (cumulative < 0.95 * cumulative[:, -1:]).sum(axis=1)
            values[i, start : start + size] = sorted_latency[np.minimum(index, rows - 1)]
    return values


def weighted_p95(latency: np.ndarray, weights: np.ndarray) -> float:
    """The smallest latency whose weighted cumulative share reaches 95% (the bootstrap's definition)."""
    order = np.argsort(latency, kind="stable")
    cumulative = np.cumsum(weights[order])
    index = int((cumulative < 0.95 * cumulative[-1]).sum())
    return float(latency[order][min(index, len(latency) - 1)])


def _bootstrap_ratio(
    seg_boot: np.ndarray, ref_boot: np.ndarray, point: float, coverage: float = 1.0
) -> tuple[Adjusted, np.ndarray]:
    """The p95 ratio's test from paired bootstrap draws: the ratio - 1, the SE of its log, the two-sided
    bootstrap p-value (never exactly 0 from B draws), and the log ratios."""
    log_ratios = np.log(seg_boot) - np.log(ref_boot)
    below, above = int((log_ratios <= 0).sum()), int((log_ratios >= 0).sum())
    p_value = min(1.0, 2 * (min(below, above) + 1) / (len(log_ratios) + 1))
    return Adjusted(point - 1, float(np.std(log_ratios, ddof=1)), p_value, coverage), log_ratios


def _sample_users(sample: pd.DataFrame) -> tuple[int, float]:
    """The distinct and Kish's effective users of a latency sample."""
    per_user = sample["user_id"].value_counts().to_numpy(float)
    return len(per_user), float(per_user.sum() ** 2 / (per_user**2).sum())


def _latency_contrast(
    row: dict[str, Any], seg: pd.DataFrame, ref: pd.DataFrame, settings: GapSettings, m: int
) -> dict[str, Any]:
    """R5: p95 latency as a ratio, with a user-level cluster bootstrap of both groups' p95; the alert test
    reweights both samples to the reference's task mix inside the same bootstrap."""
    if seg.empty or ref.empty:
        return {**row, "status": Status.INSUFFICIENT_DATA, "note": "no latency sample"}
    # The tail gate: n >= min_tail_requests and n * 0.05 >= 50, users counted in the sample.
    least = max(settings.min_tail_requests, 1000)
    gated = volume_gate(
        {
            row["segment"]: (row["requests"], *_sample_users(seg)),
            row["reference"]: (row["reference_requests"], *_sample_users(ref)),
        },
        settings,
        least,
    )
    if gated is not None:
        return {**row, "status": Status.INSUFFICIENT_DATA, "note": gated}
    key = f"{row['dimension']}/{row['segment']}/{row['metric']}".encode()
    rng = np.random.default_rng([settings.seed, zlib.crc32(key)])
    seg_weight, ref_weight, coverage = p95_task_weights(seg["task_type"].to_numpy(), ref["task_type"].to_numpy())
    points, draws = [], []
    for frame, weights in ((seg, seg_weight), (ref, ref_weight)):
        latency = frame["latency_ms"].to_numpy(float)
        codes = pd.factorize(frame["user_id"])[0]
        points.append((float(np.quantile(latency, 0.95)), weighted_p95(latency, weights)))
        draws.append(weighted_p95_bootstrap(latency, codes, settings.bootstrap_samples, rng, (None, weights)))
    (seg_p95, seg_adjusted), (ref_p95, ref_adjusted) = points
    row.update(value=seg_p95, reference_value=ref_p95, note="gap = p95 ratio - 1 (user-level bootstrap)")
    raw, log_ratios = _bootstrap_ratio(draws[0][0], draws[1][0], seg_p95 / ref_p95)
    adjusted = None
    if coverage > 0:
        adjusted = _bootstrap_ratio(draws[0][1], draws[1][1], seg_adjusted / ref_adjusted, coverage)[0]
    low, high = np.quantile(log_ratios, [settings.alpha / 2, 1 - settings.alpha / 2])
    return _finish(row, settings, m, raw=raw, ci=(math.expm1(low), math.expm1(high)), adjusted=adjusted, log_scale=True)


def _audit(row: dict[str, Any], cells: pd.DataFrame, latency: pd.DataFrame | None, settings: GapSettings) -> None:
    """Replace the standardized adjusted test of one contrast by the audit's model (errors clustered by user):
    a logit, an ordinal logit (CSAT), a Gamma GLM (cost) or a quantile regression (p95 latency)."""
    seg_cells, ref_cells = cells[cells["segment"] == row["segment"]], cells[cells["segment"] == row["reference"]]
    metric = row["metric"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            if metric in BINARY:
                events, trials = BINARY[metric]
                seg_cells, ref_cells = (c.assign(non_events=c[trials] - c[events]) for c in (seg_cells, ref_cells))
                levels = ["non_events", events]
                rows = unit_rows(seg_cells, ref_cells, levels, settings.audit_cap, settings.min_task_rows)
                adjusted, model = logit_gap(rows), "logit"
            elif metric == ORDINAL:
                rows = unit_rows(seg_cells, ref_cells, CSAT_LEVELS, settings.audit_cap, settings.min_task_rows)
                adjusted, model = ordinal_gap(rows), "ordinal logit"
            elif metric == COST:
                adjusted, model = gamma_cost_gap(seg_cells, ref_cells), "gamma GLM"
            else:
                assert latency is not None
                sample = latency[latency["segment"].isin([row["segment"], row["reference"]])]
                sample = sample.assign(is_seg=(sample["segment"] == row["segment"]).astype(int))
                adjusted, model = quantile_latency_gap(sample, settings.quantreg_per_user), "quantile regression"
        except (Warning, ValueError, np.linalg.LinAlgError) as exc:
            # The standardized test stands: a model that cannot fit (a segment never escalated separates the
            # logit perfectly) must not take the worst gaps out of the verdict.
            row["adjusted_by"] = "standardization"
            row["note"] = _join(row["note"], f"the {metric} audit model failed ({type(exc).__name__}: {exc})")
            return
    row.update(
        standardized_gap=row["adjusted_gap"],
        adjusted_gap=adjusted.gap,
        adjusted_se=adjusted.gap_se(log_scale=metric in (COST, LATENCY)),
        p_adjusted_test=adjusted.p_value,
        adjusted_by=model,
    )


def _decide(row: dict[str, Any], reject_adjusted: bool, reject_raw: bool, settings: GapSettings) -> Status:
    """The verdict, from the raw and the adjusted test; the practical margin is part of every verdict."""
    delta = settings.delta[row["metric"]]
    adjusted, raw = row["adjusted_gap"], row["gap"]
    if row.get("nonresponse"):
        return Status.NONRESPONSE_BIASED
    if reject_adjusted and abs(adjusted) >= delta:
        if not reject_raw:
            row["note"] = _join("masked gap: the raw rates hide it (task mix)", row["note"])
        elif math.copysign(1, raw) != math.copysign(1, adjusted):
            row["note"] = _join("reversal: the raw gap points the other way (task mix); for human review", row["note"])
        return Status.CONFIRMED
    if reject_raw and abs(raw) >= delta:
        if reject_adjusted and math.copysign(1, raw) != math.copysign(1, adjusted):
            row["note"] = _join(f"within each task type the gap is {adjusted:+.1%}, the other way", row["note"])
        return Status.EXPLAINED_BY_TASK_MIX
    # Equivalent when the (1 - 2 alpha) interval of the adjusted gap lies inside the margin (TOST).
    half_width = NormalDist().inv_cdf(1 - settings.alpha) * row["adjusted_se"]
    if -delta < adjusted - half_width and adjusted + half_width < delta:
        return Status.EQUIVALENT
    # Power labels a non-rejection only, and never a gap whose interval already lies beyond the margin.
    beyond = row["ci_low"] >= delta or row["ci_high"] <= -delta
    if not reject_adjusted and not beyond and row["mde"] > delta:
        return Status.UNDERPOWERED
    if beyond:
        row["note"] = _join(
            "the interval lies beyond the margin, but not after correcting for every comparison", row["note"]
        )
    return Status.NO_EVIDENCE


def _other_contrast(
    dimension: str,
    metric: str,
    segment: str,
    reference: str,
    sums: DimensionSums,
    latency: pd.DataFrame | None,
    settings: GapSettings,
    family_size: int,
) -> dict[str, Any]:
    """One segment against its reference on CSAT, p95 latency or cost per request."""
    seg, ref = sums.group(segment), sums.group(reference)
    row: dict[str, Any] = {
        "dimension": dimension,
        "segment": segment,
        "reference": reference,
        "metric": metric,
        "requests": int(seg.moments["requests"]),
        "users": int(seg.moments["users"]),
        "reference_requests": int(ref.moments["requests"]),
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
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Every segment of every dimension against its reference on each metric, with BH across the run.

    Each frame has one row per (segment, task_type, user_id) with the count columns of sql/queries/gap_cells.sql
    (or the rows of its ``groups`` grain or of sql/queries/gap_moments.sql, unless the audit needs the cells);
    p95 latency also needs request-level samples (sql/queries/gap_latency_sample.sql) per dimension. The run's
    family is every comparison made here, so ``metrics`` narrows the family, not just the output.
    ``progress(stage, done, total)`` hears of each comparison tested, then of each one audited.
    """
    report = progress or (lambda stage, done, total: None)
    chosen = metrics or list(BINARY)
    unknown = sorted(set(chosen) - set(ALL_METRICS))
    if unknown:
        raise ValueError(f"no gap test for {unknown}: choose from {', '.join(ALL_METRICS)}")
    plans: list[tuple[str, str, str, str, DimensionSums]] = []
    for dimension, cells in cells_by_dimension.items():
        if cells.empty:
            continue
        sums = DimensionSums.of(cells)
        volume = sums.moments["requests"]
        reference = settings.reference.get(dimension) or str(volume.idxmax())
        if reference not in volume.index:
            continue  # R1/R9: never switch the reference silently; the caller logs the skip
        for segment in volume.index:
            if segment != reference:
                plans.extend((dimension, metric, str(segment), reference, sums) for metric in chosen)
    latency = latency_by_dimension or {}
    rows = []
    for dimension, metric, segment, reference, sums in plans:
        if metric in BINARY:
            rows.append(_contrast(dimension, metric, segment, reference, sums, settings, len(plans)))
        else:
            dimension_latency = latency.get(dimension)
            rows.append(
                _other_contrast(dimension, metric, segment, reference, sums, dimension_latency, settings, len(plans))
            )
        report("comparisons", len(rows), len(plans))
    if settings.audit:
        audited = [r for r in rows if "adjusted_gap" in r and r.get("status") != Status.INSUFFICIENT_DATA]
        for done, row in enumerate(audited, 1):
            _audit(row, cells_by_dimension[row["dimension"]], latency.get(row["dimension"]), settings)
            report("audit models", done, len(audited))
    tested = [r for r in rows if "status" not in r and not math.isnan(r["p_adjusted_test"])]
    if tested:
        _, bh_adjusted, _, _ = multipletests([r["p_adjusted_test"] for r in tested], alpha=settings.q, method="fdr_bh")
        _, bh_raw, _, _ = multipletests([r["p_value"] for r in tested], alpha=settings.q, method="fdr_bh")
        for row, p_adj, p_raw in zip(tested, bh_adjusted, bh_raw, strict=True):
            row["p_adjusted"], row["p_raw_adjusted"] = float(p_adj), float(p_raw)
            row["status"] = _decide(row, p_adj < settings.q, p_raw < settings.q, settings)
        _false_coverage_intervals(tested, int((bh_adjusted < settings.q).sum()), settings)
    for row in rows:
        if "status" not in row:  # passed the gates, but a test gave no p-value
            row["status"] = Status.MODEL_FAILED
            row["note"] = _join(row["note"], "no p-value could be computed")
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    table["status"] = table["status"].map(lambda s: Status(s).value)
    extra = [c for c in table.columns if c not in COLUMNS and c != "nonresponse"]
    return table.reindex(columns=[*COLUMNS, *extra])


# The grains gap_cells can return: (SQL for the grain column, GROUP BY keys).
GRAINS = {
    "cell": ("'cell'", "seg, task_type, user_key"),
    "groups": (
        "if(grouping(user_key) = 0, 'user', 'task')",
        "GROUPING SETS ((user_key), (seg, task_type))",
    ),
}


def _more_slots(wanted: bool) -> dict[str, str]:
    """The slots of gap_cells filled with the parts of gap_cells_more (or emptied)."""
    parts = re.split(r"^-- slot: (\w+)\n", query("gap_cells_more").text, flags=re.MULTILINE)
    return {
        f"{{{{{slot}}}}}": text.strip() if wanted else "" for slot, text in zip(parts[1::2], parts[2::2], strict=True)
    }


def _segment_query(
    name: str,
    dimension: str,
    where: dict[str, str] | None,
    params: dict[str, Any],
    grain: str = "cell",
    more: bool = False,
) -> str:
    """A gap query with its segment, filter and grain slots filled (identifiers allow-listed, values bound), and with
    ``more`` the columns CSAT and cost need. The grain ``moments`` wraps the ``groups`` grain in gap_moments."""
    rendered = render([], where or {})
    params.update(rendered.params)
    column, keys = GRAINS["groups" if grain == "moments" else grain]
    sql = query(name).text.replace("{{modal}}", query("gap_modal_segment").text.replace("\n", "\n    "))
    sql = fill(sql, rendered).replace("{{grain_column}}", column).replace("{{grain_keys}}", keys)
    if grain == "moments":
        sql = query("gap_moments").text.replace("{{cells}}", sql.replace("\n", "\n    "))
    for slot, text in _more_slots(more).items():
        sql = sql.replace(slot, text)
    return sql.replace("{{segment}}", expression(dimension, "segment_key", params))


def _moments_and_tasks(cells: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per segment, its sums and their moments over users; per (segment, task_type), its sums: from rows of any
    grain of gap_cells or from gap_moments."""
    grains = set(cells["grain"]) if "grain" in cells else {"cell"}
    if "segment" in grains:  # gap_moments: the store has done it
        moments = cells[cells["grain"] == "segment"].drop(columns=["grain", "task_type"]).set_index("segment")
        tasks = cells[cells["grain"] == "task"].drop(columns="grain").set_index(["segment", "task_type"])
        return moments.sort_index(), tasks.sort_index()
    if "user" in grains:
        users = cells[cells["grain"] == "user"].drop(columns=["grain", "task_type"]).set_index(["segment", "user_id"])
        tasks = cells[cells["grain"] == "task"].drop(columns=["grain", "user_id"]).set_index(["segment", "task_type"])
        return segment_moments(users), tasks
    cells = cells.drop(columns="grain", errors="ignore")
    users = cells.groupby(["segment", "user_id"]).sum(numeric_only=True)
    tasks = cells.drop(columns="user_id").groupby(["segment", "task_type"]).sum(numeric_only=True)
    return segment_moments(users), tasks


def load_cells(
    store: Store,
    dimension: str,
    since: datetime | None = None,
    until: datetime | None = None,
    where: dict[str, str] | None = None,
    grain: str = "cell",
    more: bool = True,
) -> pd.DataFrame:
    """Per-(segment, task_type, user) counts for one allow-listed dimension (or, with grain ``groups``, the
    per-user and per-task sums; with grain ``moments``, what the tests need of them: per segment, its sums and their
    moments over users, and per (segment, task_type), its sums); without ``more``, only the counts of the binary
    metrics (not the spend and ratings that CSAT and cost need)."""
    params: dict[str, Any] = {"since": since or EPOCH, "until": until or FAR_FUTURE}
    return store.query_df(_segment_query("gap_cells", dimension, where, params, grain, more), params)


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
    volume = _moments_and_tasks(cells)[0]["requests"]
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
    progress: Progress | None = None,
) -> pd.DataFrame:
    """The gap table of ``dimensions`` over a time range (all binary metrics unless ``metrics`` narrows it).

    ``where`` keeps only the requests of a cut (a router version, a tier, ...), as in ``metrics.registry``;
    ``progress`` is told of the comparisons as in ``gap_table_from_cells``.
    """
    settings = settings or GapSettings()
    grain = "cell" if settings.audit else "moments"  # the audit's models fit on the cells
    more = bool(set(metrics or BINARY) & {ORDINAL, COST})
    cells = {d: load_cells(store, d, since, until, where, grain, more) for d in dimensions}
    latency = None
    if metrics and LATENCY in metrics:
        latency = {d: load_latency(store, d, cells[d], settings.bootstrap_cap, since, until, where) for d in dimensions}
    return gap_table_from_cells(cells, settings, metrics, latency, progress)


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

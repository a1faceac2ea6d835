"""The statistical primitives of a gap: the volume gate, the score test and interval, power, the p95 bootstrap."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
from scipy.optimize import brentq

from metrics.gaps._sums import (
    ClusterCounts,
)
from metrics.gaps._vocabulary import (
    GapSettings,
)


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
    crit = normal_quantile(1 - alpha / 2)
    h = (crit + normal_quantile(power)) / root
    for _ in range(20):
        achieved = unit.cdf(h * root - crit) + unit.cdf(-h * root - crit)
        step = (achieved - power) / (root * (unit.pdf(h * root - crit) - unit.pdf(-h * root - crit)))
        h -= step
        if abs(step) <= 1e-12 * h:
            break
    return h


def score_variance(count1: float, nobs1: float, count0: float, nobs0: float, diff: float) -> float:
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
    variance = score_variance(count1, nobs1, count0, nobs0, 0.0)
    estimate = count1 / nobs1 - count0 / nobs0
    if variance <= 0:
        return 1.0
    return math.erfc(abs(estimate) / math.sqrt(2 * variance))


def score_interval(count1: float, nobs1: float, count0: float, nobs0: float, alpha: float) -> tuple[float, float]:
    """The score interval of p1 - p0 (Miettinen-Nurminen, with the correction): the differences whose score test
    does not reject at ``alpha``, found on each side of the estimate by Brent's method. The score statistic grows
    without bound towards -1 and 1, so (-1, estimate) and (estimate, 1) always hold one bound each."""
    estimate = count1 / nobs1 - count0 / nobs0
    crit = normal_quantile(1 - alpha / 2)

    def excess(diff: float) -> float:  # |z| - crit: zero at each bound
        if diff == estimate:  # no variance left when both groups have no events (or only events)
            return -crit
        return abs(estimate - diff) / math.sqrt(score_variance(count1, nobs1, count0, nobs0, diff)) - crit

    edge = 1 - 1e-9
    return float(brentq(excess, -edge, estimate)), float(brentq(excess, estimate, edge))


def minimum_detectable_gap(seg: ClusterCounts, ref: ClusterCounts, alpha_plan: float, power: float) -> float:
    """The smallest gap (either direction) the effective sample sizes can detect, in rate points."""
    h = detectable_effect(seg.n_eff, ref.n_eff, alpha_plan, power)
    phi = 2 * math.asin(math.sqrt(ref.rate))
    up = math.sin(min(phi + h, math.pi) / 2) ** 2 - ref.rate
    down = ref.rate - math.sin(max(phi - h, 0) / 2) ** 2
    return float(max(up, down))


def normal_quantile(level: float) -> float:
    return NormalDist().inv_cdf(level)


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


Z95 = NormalDist().inv_cdf(0.975)


def adjusted_interval(gap: float | None, se: float | None, z: float = Z95) -> tuple[float, float] | None:
    """The task-mix-adjusted gap's own interval, ``gap`` plus or minus ``z`` standard errors (95% by default);
    None without a standard error."""
    if gap is None or se is None or math.isnan(gap) or math.isnan(se):
        return None
    return gap - z * se, gap + z * se

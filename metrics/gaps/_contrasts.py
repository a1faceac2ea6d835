"""One segment against its reference, one function per metric kind, and the audit's models that can replace
the standardization."""

from __future__ import annotations

import math
import warnings
import zlib
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
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
from metrics.gaps._statistics import (
    minimum_detectable_gap,
    normal_quantile,
    score_interval,
    score_test,
    score_variance,
    volume_gate,
    weighted_p95,
    weighted_p95_bootstrap,
)
from metrics.gaps._sums import (
    DimensionSums,
    Group,
    cluster_counts,
    effective_users,
    mean_counts,
    pooled_design_effect,
)
from metrics.gaps._vocabulary import (
    BINARY,
    COST,
    LATENCY,
    ORDINAL,
    GapSettings,
    Status,
    join_note,
)


def binary_contrast(
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
    seg_moments, ref_moments = sums.records[segment], sums.records[reference]
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
        "deff": seg.deff,  # the segment's: n_eff = trials / deff
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
        row.update(deff=seg.deff, n_eff=seg.n_eff)
        row["note"] = f"no variation in {events} in {' and '.join(flat)}: the design effect is the pooled groups'"
    row["mde"] = minimum_detectable_gap(seg, ref, settings.q / max(family_size, 1), settings.power)
    if trials == "rated":  # thumbs: is the feedback itself representative?
        seg_coverage = seg.trials / max(row["requests"], 1)
        ref_coverage = ref.trials / max(row["reference_requests"], 1)
        ratio = seg_coverage / ref_coverage if ref_coverage else math.inf
        low, high = settings.coverage_ratio
        if min(seg_coverage, ref_coverage) < settings.min_coverage or not low <= ratio <= high:
            row["note"] = join_note(row["note"], f"feedback coverage {seg_coverage:.1%} against {ref_coverage:.1%}")
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
                se = math.sqrt(score_variance(*counts, row["gap"]))
                adjusted = Adjusted(row["gap"], se, p_value, 0.0)
                row["note"] = join_note(row["note"], "not adjusted for task mix (no task type in both groups)")
        except (Warning, ValueError, ZeroDivisionError) as exc:
            return {
                **row,
                "status": Status.MODEL_FAILED,
                "note": join_note(row["note"], f"{type(exc).__name__}: {exc}"),
            }
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
    plan = normal_quantile(1 - settings.q / max(family_size, 1) / 2) + normal_quantile(settings.power)
    mde = math.expm1(plan * raw.se) if log_scale else plan * raw.se
    if adjusted is None:
        adjusted = raw
        row["note"] = join_note(row["note"], "not adjusted for task mix (no task type in both groups)")
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
        mean, variance, raters = mean_counts(group.moments, "csat_sum", "csat_n")
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
    se = (high - low) / (2 * normal_quantile(1 - settings.alpha / 2))
    raw = Adjusted(result.prob1 - 0.5, se, p_value)
    adjusted = standardized_csat_gap(seg.tasks, ref.tasks, (seg_deff, ref_deff))
    row["note"] = "gap = P(segment rates higher) - 0.5"
    return _finish(row, settings, m, raw=raw, ci=(low - 0.5, high - 0.5), adjusted=adjusted)


def _within_task_design_effect(group: Group) -> float:
    """Kish's design effect of cost per request within task types: the cluster-robust variance of the users'
    residuals from their segment's task means, over the same residuals' variance as if requests were independent.
    The spread between task types, which standardization removes, stays out of both."""
    tasks = group.tasks[group.tasks["priced"] > 0]
    within = float((tasks["cost_sq"] - tasks["cost"] ** 2 / tasks["priced"]).clip(lower=0).sum())
    users = int(group.moments["users"])
    if users < 2 or within <= 0:
        return 1.0
    return max(1.0, users / (users - 1) * float(group.moments["sq_cost_within"]) / within)


def _cost_contrast(row: dict[str, Any], seg: Group, ref: Group, settings: GapSettings, m: int) -> dict[str, Any]:
    """R5: cost per request as a ratio of means over users; the gap is ratio - 1, tested on the log scale, and
    standardized to the reference's task mix for the alert test."""
    # over priced requests: an unpriced one (its cost unknown) is in neither the spend nor the count
    seg_mean, seg_var, seg_users = mean_counts(seg.moments, "cost", "priced")
    ref_mean, ref_var, ref_users = mean_counts(ref.moments, "cost", "priced")
    row.update(value=seg_mean, reference_value=ref_mean)
    gated = volume_gate(
        {
            row["segment"]: (int(seg.moments["priced"]), seg_users, effective_users(seg.moments, "priced")),
            row["reference"]: (int(ref.moments["priced"]), ref_users, effective_users(ref.moments, "priced")),
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
    z = normal_quantile(1 - settings.alpha / 2)
    ci = (math.exp(log_ratio - z * se_log) - 1, math.exp(log_ratio + z * se_log) - 1)
    deff = (_within_task_design_effect(seg), _within_task_design_effect(ref))
    row.update(note="gap = cost ratio - 1", deff=max(deff))
    raw = Adjusted(math.expm1(log_ratio), se_log, normal_p_value(log_ratio, se_log))
    adjusted = standardized_cost_ratio(seg.tasks, ref.tasks, deff)
    return _finish(row, settings, m, raw=raw, ci=ci, adjusted=adjusted, log_scale=True)


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


def audit_contrast(
    row: dict[str, Any], cells: pd.DataFrame, latency: pd.DataFrame | None, settings: GapSettings
) -> None:
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
            row["note"] = join_note(row["note"], f"the {metric} audit model failed ({type(exc).__name__}: {exc})")
            return
    row.update(
        standardized_gap=row["adjusted_gap"],
        adjusted_gap=adjusted.gap,
        adjusted_se=adjusted.gap_se(log_scale=metric in (COST, LATENCY)),
        p_adjusted_test=adjusted.p_value,
        adjusted_by=model,
    )


def other_contrast(
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

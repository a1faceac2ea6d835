"""The gap table: every contrast of a run, Benjamini-Hochberg across them, the intervals of the selected ones,
the verdicts."""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass, fields
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from metrics.gaps._contrasts import audit_contrast, binary_contrast, other_contrast
from metrics.gaps._statistics import normal_quantile
from metrics.gaps._sums import DimensionSums
from metrics.gaps._vocabulary import (
    ALL_METRICS,
    BINARY,
    DEFAULT_METRICS,
    GapSettings,
    Progress,
    Status,
    gap_words,
    join_note,
)


@dataclass(frozen=True, kw_only=True)
class GapRow:
    """One row of a gap table: a segment against its reference on one metric. Every table has these columns, in
    this order (``COLUMNS`` first); a number that a contrast does not reach is NaN. Gaps are rate points, P(segment
    rates higher) - 0.5 for CSAT, or ratio - 1 for p95 latency and cost per request; p-values are two-sided."""

    dimension: str
    segment: str
    reference: str
    metric: str
    value: float = math.nan
    reference_value: float = math.nan
    gap: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    p_value: float = math.nan
    p_adjusted: float = math.nan  # Benjamini-Hochberg over the run's adjusted (alert) tests
    adjusted_gap: float = math.nan
    requests: int = 0
    users: int = 0
    status: str = Status.MODEL_FAILED.value
    reference_requests: int = 0
    trials: float = math.nan  # the metric's denominator: requests, known outcomes, ratings
    deff: float = math.nan  # design effect, the larger of the two groups'
    n_eff: float = math.nan  # the segment's effective sample size
    mde: float = math.nan  # the smallest gap the data could detect at the planning level q/m
    value_ci_low: float = math.nan
    value_ci_high: float = math.nan
    adjusted_se: float = math.nan
    p_adjusted_test: float = math.nan  # the adjusted test's own p-value, before the correction
    coverage: float = math.nan  # share of the segment's traffic in task types the reference also has
    p_raw_adjusted: float = math.nan  # Benjamini-Hochberg over the raw tests
    fcr_ci_low: float = math.nan  # false-coverage-rate interval of a selected comparison
    fcr_ci_high: float = math.nan
    severity: str | None = None  # critical when that interval lies wholly beyond the margin, else high
    standardized_gap: float = math.nan  # with the audit: the standardization's gap, which the model replaced
    adjusted_by: str | None = None  # with the audit: the model behind adjusted_gap
    note: str = ""


GAP_ROW_FIELDS = tuple(f.name for f in fields(GapRow))


def _decide(row: dict[str, Any], reject_adjusted: bool, reject_raw: bool, settings: GapSettings) -> Status:
    """The verdict, from the raw and the adjusted test; the practical margin is part of every verdict."""
    delta = settings.delta[row["metric"]]
    adjusted, raw = row["adjusted_gap"], row["gap"]
    if row.get("nonresponse"):
        return Status.NONRESPONSE_BIASED
    if reject_adjusted and abs(adjusted) >= delta:
        if not reject_raw:
            row["note"] = join_note("masked gap: the raw rates hide it (task mix)", row["note"])
        elif math.copysign(1, raw) != math.copysign(1, adjusted):
            row["note"] = join_note(
                "reversal: the raw gap points the other way (task mix); for human review", row["note"]
            )
        return Status.CONFIRMED
    if reject_raw and not reject_adjusted and abs(raw) >= delta:
        return Status.EXPLAINED_BY_TASK_MIX  # R3's matrix: the raw gap is real, the task mix accounts for it
    if reject_adjusted:  # a gap the data shows, only smaller than the margin: never "no evidence" nor "the same"
        if reject_raw and math.copysign(1, raw) != math.copysign(1, adjusted):
            row["note"] = join_note(
                f"within each task type it is {gap_words(row['metric'], adjusted)}, the other way", row["note"]
            )
        return Status.BELOW_MARGIN
    # Equivalent when the (1 - 2 alpha) interval of the adjusted gap lies inside the margin (TOST).
    half_width = NormalDist().inv_cdf(1 - settings.alpha) * row["adjusted_se"]
    if -delta < adjusted - half_width and adjusted + half_width < delta:
        return Status.EQUIVALENT
    # Power labels a non-rejection only, and never a gap whose interval already lies beyond the margin.
    beyond = row["ci_low"] >= delta or row["ci_high"] <= -delta
    if not reject_adjusted and not beyond and row["mde"] > delta:
        return Status.UNDERPOWERED
    if beyond:
        row["note"] = join_note(
            "the interval lies beyond the margin, but not after correcting for every comparison", row["note"]
        )
    return Status.NO_EVIDENCE


def _false_coverage_intervals(tested: list[dict[str, Any]], selected: int, settings: GapSettings) -> None:
    """Intervals for the selected (rejected) contrasts at level 1 - R q / m (Benjamini-Yekutieli FCR), so the
    winners' intervals are not too optimistic; ``critical`` when such an interval lies wholly beyond the margin.
    """
    if not selected:
        return
    alpha = selected * settings.q / len(tested)
    z = normal_quantile(1 - alpha / 2)
    for row in tested:
        if row["p_adjusted"] >= settings.q:
            continue
        low, high = row["adjusted_gap"] - z * row["adjusted_se"], row["adjusted_gap"] + z * row["adjusted_se"]
        row["fcr_ci_low"], row["fcr_ci_high"] = low, high
        if row["status"] == Status.CONFIRMED:
            delta = settings.delta[row["metric"]]
            row["severity"] = "critical" if low > delta or high < -delta else "high"


# The variable the adjusted tests hold at the reference's mix; segments of it cannot be adjusted for it.
TASK_TYPE = "task_type"


def _unadjustable(dimension: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with, when the segments are task types, each row's stratum set to its segment: a segment then
    shares no stratum with its reference, so its tests are the raw ones (adjusting a task type for the task mix
    would compare it with itself), and the note says so."""
    if dimension != TASK_TYPE or frame.empty or "segment" not in frame:
        return frame
    return frame.assign(task_type=frame["segment"])


def gap_table_from_cells(
    cells_by_dimension: dict[str, pd.DataFrame],
    settings: GapSettings,
    metrics: list[str] | None = None,
    latency_by_dimension: dict[str, pd.DataFrame] | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Every segment of every dimension against its reference on each metric, with BH across the run.

    Each frame has one row per (segment, task_type, user_id) with the count columns of sql/queries/gap_cells.sql
    (or the rows of its ``groups`` grain or of sql/queries/gap_moments.sql, unless the audit needs the cells), and
    ``reasked`` when re-asks are compared;
    p95 latency also needs request-level samples (sql/queries/gap_latency_sample.sql) per dimension. The run's
    family is every comparison made here, so ``metrics`` narrows the family, not just the output.
    ``progress(stage, done, total)`` hears of each comparison tested, then of each one audited.
    """
    cells_by_dimension = {d: _unadjustable(d, cells) for d, cells in cells_by_dimension.items()}
    sums = {d: DimensionSums.of(cells) for d, cells in cells_by_dimension.items() if not cells.empty}
    return gap_table_from_sums(sums, settings, metrics, latency_by_dimension, progress, cells_by_dimension)


def gap_table_from_sums(
    sums_by_dimension: dict[str, DimensionSums],
    settings: GapSettings,
    metrics: list[str] | None = None,
    latency_by_dimension: dict[str, pd.DataFrame] | None = None,
    progress: Progress | None = None,
    cells_by_dimension: dict[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """``gap_table_from_cells`` from each dimension's sums (``DimensionSums``; a task-type dimension's strata already
    set to its segments), as ``metrics.gaps.trailing`` computes them for many windows at once; the audit also needs
    the cells."""
    report = progress or (lambda stage, done, total: None)
    chosen = metrics or list(DEFAULT_METRICS)
    unknown = sorted(set(chosen) - set(ALL_METRICS))
    if unknown:
        raise ValueError(f"no gap test for {unknown}: choose from {', '.join(ALL_METRICS)}")
    plans: list[tuple[str, str, str, str, DimensionSums]] = []
    latency = {d: _unadjustable(d, sample) for d, sample in (latency_by_dimension or {}).items()}
    for dimension, sums in sums_by_dimension.items():
        volume = sums.moments["requests"]
        reference = settings.reference.get(dimension) or str(volume.idxmax())
        if reference not in volume.index:
            continue  # R1/R9: never switch the reference silently; the caller logs the skip
        for segment in volume.index:
            if segment != reference:
                plans.extend((dimension, metric, str(segment), reference, sums) for metric in chosen)
    rows = []
    for dimension, metric, segment, reference, sums in plans:
        if metric in BINARY:
            rows.append(binary_contrast(dimension, metric, segment, reference, sums, settings, len(plans)))
        else:
            dimension_latency = latency.get(dimension)
            rows.append(
                other_contrast(dimension, metric, segment, reference, sums, dimension_latency, settings, len(plans))
            )
        report("comparisons", len(rows), len(plans))
    if settings.audit:
        audited = [
            r
            for r in rows
            if "adjusted_gap" in r and r.get("status") != Status.INSUFFICIENT_DATA and r["dimension"] != TASK_TYPE
        ]
        for done, row in enumerate(audited, 1):
            assert cells_by_dimension is not None, "the audit fits its models on the cells"
            audit_contrast(row, cells_by_dimension[row["dimension"]], latency.get(row["dimension"]), settings)
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
            row["note"] = join_note(row["note"], "no p-value could be computed")
    typed = [GapRow(**{k: v for k, v in row.items() if k != "nonresponse"}) for row in rows]
    table = pd.DataFrame([astuple(row) for row in typed], columns=list(GAP_ROW_FIELDS))
    table["status"] = table["status"].map(lambda s: Status(s).value)
    return table


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

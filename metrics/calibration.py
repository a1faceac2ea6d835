"""Router-score calibration by segment: at the same router score, is a segment's outcome its reference's?

A router predicts each request's difficulty from the prompt (``router_score``). When the score under-rates one
segment's prompts (non-English text, scripts), those users stay on the cheap route and fail there, and plain rate
parity cannot tell why (STATISTICS.md R1). Here every segment is binned on one scale, the quintiles of its
reference's scores, and for each outcome (escalated, resolved, thumbs-up):

* a reliability curve: the outcome's rate in each score bin, per segment;
* a test: a logit of the outcome on the segment and the score bin, errors clustered by user (the audit's model
  of metrics.gaps with score bins in the place of task types), whose average marginal effect is the gap at the
  same score in rate points; Benjamini-Hochberg across every comparison, the practical margins of the gap table.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from datetime import datetime
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from metrics.adjust import logit_gap, unit_rows
from metrics.gaps import BINARY, GapSettings, Status, gap_label, gap_words, segment_query, volume_gate
from metrics.window import EPOCH, FAR_FUTURE
from routewatch.store import Store

OUTCOMES = ("escalation_rate", "resolution_rate", "thumbs_up_rate")
TEST_COLUMNS = [
    "dimension", "segment", "reference", "metric", "gap_at_same_score", "ci_low", "ci_high", "p_value",
    "p_adjusted", "requests", "users", "status", "under_rated", "evidence", "note",
]  # fmt: skip
CURVE_COLUMNS = ["dimension", "segment", "metric", "bin", "mean_score", "trials", "events", "rate"]


@dataclass(frozen=True)
class Calibration:
    """The calibration of one dimension: ``tests`` has a row per (segment, outcome) with the gap at the same
    score (rate points), its interval, p-values, a status and ``under_rated`` (a confirmed gap below the
    reference: resolved, thumbed up or escalated less at the same score; ``TEST_COLUMNS``); ``curves`` a row per
    (segment, outcome, score bin) with the bin's mean score, trials, events and rate (``CURVE_COLUMNS``)."""

    reference: str | None
    edges: list[float]
    tests: pd.DataFrame
    curves: pd.DataFrame


def _evidence(row: dict[str, Any]) -> str:
    gap = row["gap_at_same_score"]
    sentence = (
        f"at the same router score, {row['segment']}'s {gap_label(row['metric'])} is "
        f"{gap_words(row['metric'], gap)} than {row['reference']}'s"
    )
    # Resolved or thumbed up less, or escalated less, than their score asks for: the router under-rates them.
    return sentence + (": the score under-rates them" if row["under_rated"] else ": the score over-rates them")


def calibration(
    store: Store,
    dimension: str,
    settings: GapSettings | None = None,
    *,
    metrics: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    where: dict[str, str] | None = None,
) -> Calibration:
    """Score calibration of every segment of an allow-listed ``dimension`` against its reference (the largest
    segment with router scores, or ``settings.reference[dimension]``), over the requests that carry a score.

    Raises ``metrics.dimensions.DimensionError`` for a dimension off the allow-list.
    """
    settings = settings or GapSettings()
    chosen = metrics or list(OUTCOMES)
    params: dict[str, Any] = {"since": since or EPOCH, "until": until or FAR_FUTURE}
    volume = store.query_df(segment_query("calibration_edges", dimension, where, params), params)
    empty = Calibration(None, [], pd.DataFrame(columns=TEST_COLUMNS), pd.DataFrame(columns=CURVE_COLUMNS))
    if volume.empty:
        return empty
    volume = volume.set_index("segment")
    reference = settings.reference.get(dimension) or str(volume["requests"].idxmax())
    if reference not in volume.index:
        return empty
    edges = [float(e) for e in volume.loc[reference, "edges"]]
    params["edges"] = edges
    cells = store.query_df(segment_query("calibration_cells", dimension, where, params), params)
    curves = _curves(cells, dimension, chosen)
    rows = [
        _test(cells, dimension, str(segment), reference, metric, settings)
        for segment in volume.index
        if segment != reference
        for metric in chosen
    ]
    tested = [r for r in rows if "status" not in r]
    if tested:
        reject, p_adjusted, _, _ = multipletests([r["p_value"] for r in tested], alpha=settings.q, method="fdr_bh")
        for row, rejected, p in zip(tested, reject, p_adjusted, strict=True):
            row["p_adjusted"] = float(p)
            row["status"] = _verdict(row, bool(rejected), settings)
    for row in rows:
        row["under_rated"] = row["status"] == Status.CONFIRMED and row["gap_at_same_score"] < 0
        if row["status"] == Status.CONFIRMED:
            row["evidence"] = _evidence(row)
    tests = pd.DataFrame(rows).reindex(columns=TEST_COLUMNS)
    tests["status"] = tests["status"].map(lambda s: Status(s).value)
    tests["evidence"] = tests["evidence"].fillna("")
    return Calibration(reference, edges, tests, curves)


def _curves(cells: pd.DataFrame, dimension: str, metrics: list[str]) -> pd.DataFrame:
    sums = cells.drop(columns="user_id").groupby(["segment", "task_type"]).sum().reset_index()
    parts = []
    for metric in metrics:
        events, trials = BINARY[metric]
        rate = (sums[events] / sums[trials].where(sums[trials] > 0)).astype(float)
        parts.append(
            pd.DataFrame(
                {
                    "dimension": dimension,
                    "segment": sums["segment"],
                    "metric": metric,
                    "bin": sums["task_type"].str.removeprefix("bin ").astype(int),
                    "mean_score": sums["score_sum"] / sums["requests"],
                    "trials": sums[trials],
                    "events": sums[events],
                    "rate": rate,
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    return pd.concat(parts, ignore_index=True).sort_values(["metric", "segment", "bin"], ignore_index=True)


def _test(
    cells: pd.DataFrame, dimension: str, segment: str, reference: str, metric: str, settings: GapSettings
) -> dict[str, Any]:
    """One segment against its reference on one outcome, at the same score, before the correction."""
    events, trials = BINARY[metric]
    groups = {name: cells[cells["segment"] == name] for name in (segment, reference)}
    seg = groups[segment]
    row: dict[str, Any] = {
        "dimension": dimension,
        "segment": segment,
        "reference": reference,
        "metric": metric,
        "requests": int(seg["requests"].sum()),
        "users": int(seg["user_id"].nunique()),
        "note": "",
    }
    sizes: dict[str, tuple[float, float, float]] = {}
    for name, frame in groups.items():
        per_user = frame.groupby("user_id")[trials].sum().to_numpy(float)
        total, squares = float(per_user.sum()), float((per_user**2).sum())
        sizes[name] = (total, float((per_user > 0).sum()), total * total / squares if squares else 0.0)
    gated = volume_gate(sizes, settings, unit=trials)
    if gated is not None:
        return {**row, "status": Status.INSUFFICIENT_DATA, "note": gated}
    seg_cells, ref_cells = (g.assign(non_events=g[trials] - g[events]) for g in groups.values())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            rows = unit_rows(seg_cells, ref_cells, ["non_events", events], settings.audit_cap, settings.min_task_rows)
            gap = logit_gap(rows)
        except (Warning, ValueError, np.linalg.LinAlgError) as exc:
            return {**row, "status": Status.MODEL_FAILED, "note": f"{type(exc).__name__}: {exc}"}
    z = NormalDist().inv_cdf(1 - settings.alpha / 2)
    return {
        **row,
        "gap_at_same_score": gap.gap,
        "ci_low": gap.gap - z * gap.se,
        "ci_high": gap.gap + z * gap.se,
        "p_value": gap.p_value,
        "se": gap.se,
    }


def _verdict(row: dict[str, Any], rejected: bool, settings: GapSettings) -> Status:
    delta = settings.delta[row["metric"]]
    gap = row["gap_at_same_score"]
    if rejected and abs(gap) >= delta:
        return Status.CONFIRMED
    if rejected:  # a gap the data shows, only smaller than the margin: never "no evidence" (as segment gaps)
        return Status.BELOW_MARGIN
    half_width = NormalDist().inv_cdf(1 - settings.alpha) * row["se"]
    if -delta < gap - half_width and gap + half_width < delta:
        return Status.EQUIVALENT
    return Status.NO_EVIDENCE if math.isfinite(gap) else Status.MODEL_FAILED

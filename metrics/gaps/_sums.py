"""Sums over users: each segment's counts and their moments, the cluster-robust (linearized) variances and the
design effects."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from metrics.adjust import (
    CSAT_LEVELS,
)
from metrics.gaps._vocabulary import (
    RATIOS,
)


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
    records: dict[str, dict[str, Any]]  # each segment's moments as Python numbers: a contrast reads them often

    @classmethod
    def of(cls, cells: pd.DataFrame) -> DimensionSums:
        """From rows of any grain of gap_cells or from gap_moments."""
        return cls.of_parts(*moments_and_tasks(cells))

    @classmethod
    def of_parts(cls, moments: pd.DataFrame, tasks: pd.DataFrame) -> DimensionSums:
        """From the two frames of ``moments_and_tasks``: per segment (indexed by segment, sorted) and per (segment,
        task_type) (indexed by both, sorted, unique)."""
        # Placed by position rather than unstacked: the same arrays (segments in the moments' order, task types
        # sorted, 0 where a segment has no request of a type) at a fifth of the cost, which a run over many
        # windows pays per window.
        segments = tasks.index.get_level_values("segment")
        types = tasks.index.get_level_values("task_type")
        columns = np.sort(types.unique().to_numpy(dtype=object))
        rows = moments.index.get_indexer(segments)
        kept = rows >= 0
        rows, places = rows[kept], np.searchsorted(columns, types.to_numpy(dtype=object)[kept])
        values = tasks.to_numpy(float)[kept]
        arrays = {}
        for number, column in enumerate(tasks.columns):
            wide = np.zeros((len(moments.index), len(columns)))
            wide[rows, places] = values[:, number]
            arrays[column] = wide
        records = {str(segment): values for segment, values in moments.to_dict("index").items()}
        return cls(moments, tasks, arrays, {str(segment): row for row, segment in enumerate(moments.index)}, records)

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


def exact_number(value: Any) -> int | float:
    """A moment as a Python number: integer counts stay exact integers."""
    return int(value) if isinstance(value, int | np.integer) else float(value)


def mean_counts(moments: Mapping[str, Any], events: str, trials: str) -> tuple[float, float, int]:
    """A ratio of means over users, sum(events) / sum(trials), and its linearized (cluster-robust) variance
    n / (n - 1) * sum_i (events_i - mean * trials_i)^2 / sum(trials)^2 over the n users with trials, from the
    segment's moments (exact for integer counts)."""
    users = int(moments[f"users_{trials}"])
    k, n = exact_number(moments[events]), exact_number(moments[trials])
    if users < 2 or n == 0:
        return math.nan, math.nan, users
    sq_k, k_n, sq_n = (exact_number(moments[c]) for c in (f"sq_{events}", f"{events}_x_{trials}", f"sq_{trials}"))
    residuals = (n * n * sq_k - 2 * k * n * k_n + k * k * sq_n) / (n * n)
    return k / n, users / (users - 1) * max(float(residuals), 0.0) / float(n) ** 2, users


def effective_users(moments: Mapping[str, Any], trials: str) -> float:
    """Kish's effective number of users of a group, (sum_i n_i)^2 / sum_i n_i^2 over its users' trials: as many
    as it has when they send alike, about 3 when three accounts send nearly everything. It depends on the counts
    only, never on the outcome, so it can gate a test (STATISTICS.md R2, independent units)."""
    total, squares = float(moments[trials]), float(moments[f"sq_{trials}"])
    return total * total / squares if squares > 0 else 0.0


def cluster_counts(moments: Mapping[str, Any], events: str, trials: str) -> ClusterCounts:
    """Ratio estimator over users, linearization variance, design effect (at least 1)."""
    rate, v_cluster, users = mean_counts(moments, events, trials)
    k, total = float(moments[events]), float(moments[trials])
    units = effective_users(moments, trials)
    if math.isnan(rate):
        return ClusterCounts(k, total, users, math.nan, 1.0, units)
    v_simple = rate * (1 - rate) / total
    deff = max(1.0, v_cluster / v_simple) if v_simple > 0 else 1.0
    return ClusterCounts(k, total, users, rate, deff, units)


def pooled_design_effect(groups: tuple[Mapping[str, Any], ...], events: str, trials: str) -> float:
    """The design effect of groups pooled: the sum of their cluster-robust residual sums of squares (each around
    its own rate) over the sum of their binomial variances, at least 1. A group with no events or only events adds
    nothing to either, so a contrast with such a group borrows the other's clustering (STATISTICS.md R2: its own
    design effect cannot be estimated from it)."""
    residual, binomial = 0.0, 0.0
    for moments in groups:
        rate, v_cluster, _ = mean_counts(moments, events, trials)
        if math.isnan(rate):
            continue
        total = float(moments[trials])
        residual += v_cluster * total * total
        binomial += rate * (1 - rate) * total
    return max(1.0, residual / binomial) if binomial > 0 else 1.0


# The keys of a row of gap_cells or gap_moments; the other columns are sums.
SUM_KEYS = ("grain", "segment", "task_type", "user_id")


def merge_shard_sums(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The rows of gap_cells or gap_moments of a whole store from those of its shards (a list of frames, each any
    number of shards' rows), sorted by their keys: the sums of rows with the same keys. Exact, integers staying
    integers, when each user's requests are on one shard: a user's sums, and so their squares, never straddle two
    shards (README, "Past one machine")."""
    frame = pd.concat(parts, ignore_index=True)
    keys = [key for key in SUM_KEYS if key in frame]
    return frame.groupby(keys, as_index=False, sort=True).sum()


def moments_and_tasks(cells: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per segment, its sums and their moments over users; per (segment, task_type), its sums: from rows of any
    grain of gap_cells or from gap_moments."""
    grains = set(cells["grain"]) if "grain" in cells else {"cell"}
    if "segment" in grains:  # gap_moments: the store has done it
        moments = cells[cells["grain"] == "segment"].drop(columns=["grain", "task_type"]).set_index("segment")
        tasks = cells[cells["grain"] == "task"].drop(columns="grain").set_index(["segment", "task_type"])
        if not tasks.index.is_unique:  # segments that are task types: each stratum is its segment (_unadjustable)
            tasks = tasks.groupby(level=["segment", "task_type"]).sum()
        return moments.sort_index(), tasks.sort_index()
    if "user" in grains:
        users = cells[cells["grain"] == "user"].drop(columns=["grain", "task_type"]).set_index(["segment", "user_id"])
        tasks = cells[cells["grain"] == "task"].drop(columns=["grain", "user_id"]).set_index(["segment", "task_type"])
        return segment_moments(users), tasks
    cells = cells.drop(columns="grain", errors="ignore")
    users = cells.groupby(["segment", "user_id"]).sum(numeric_only=True)
    tasks = cells.drop(columns="user_id").groupby(["segment", "task_type"]).sum(numeric_only=True)
    return segment_moments(users), tasks

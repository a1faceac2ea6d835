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

The package: ``_vocabulary`` (statuses, metric kinds, settings), ``_sums`` (sums over users and their
cluster-robust variances), ``_statistics`` (the tests and intervals), ``_contrasts`` (one segment against its
reference, per metric kind), ``_table`` (the run: correction and verdicts) and ``_loading`` (from the store, or
shard by shard from a store sharded by user: ``Shards``), ``_trailing`` (the tables of the trailing 7, 14 and 28 closed
days as of many days from one scan, and the stored ones read back).
"""

from metrics.gaps._loading import Shards, gap_table, load_cells, load_latency, segment_query
from metrics.gaps._statistics import (
    Z95,
    adjusted_interval,
    detectable_effect,
    minimum_detectable_gap,
    score_interval,
    score_test,
    volume_gate,
    weighted_p95,
    weighted_p95_bootstrap,
)
from metrics.gaps._sums import (
    ClusterCounts,
    DimensionSums,
    cluster_counts,
    effective_users,
    merge_shard_sums,
    pooled_design_effect,
    segment_moments,
)
from metrics.gaps._table import GAP_ROW_FIELDS, GapRow, gap_table_from_cells, gap_table_from_sums, traffic_to_decide
from metrics.gaps._trailing import (
    EVERY_ROUTER,
    WINDOW_DAYS,
    TrailingWindow,
    stored_gap_table,
    stored_metrics,
    trailing_gap_tables,
    trailing_sums,
)
from metrics.gaps._vocabulary import (
    ALL_METRICS,
    BINARY,
    COLUMNS,
    COST,
    DEFAULT_METRICS,
    GAP_METRICS,
    LATENCY,
    MARGINS,
    ORDINAL,
    OTHER,
    RATIOS,
    REASK,
    STATUS_LABELS,
    STATUS_WORDS,
    GapSettings,
    Progress,
    Status,
    gap_label,
    gap_words,
    join_note,
)

__all__ = [
    "ALL_METRICS",
    "BINARY",
    "COLUMNS",
    "COST",
    "DEFAULT_METRICS",
    "EVERY_ROUTER",
    "GAP_METRICS",
    "GAP_ROW_FIELDS",
    "LATENCY",
    "MARGINS",
    "ORDINAL",
    "OTHER",
    "RATIOS",
    "REASK",
    "STATUS_LABELS",
    "STATUS_WORDS",
    "WINDOW_DAYS",
    "Z95",
    "ClusterCounts",
    "DimensionSums",
    "GapRow",
    "GapSettings",
    "Progress",
    "Shards",
    "Status",
    "TrailingWindow",
    "adjusted_interval",
    "cluster_counts",
    "detectable_effect",
    "effective_users",
    "gap_label",
    "gap_table",
    "gap_table_from_cells",
    "gap_table_from_sums",
    "gap_words",
    "join_note",
    "load_cells",
    "load_latency",
    "merge_shard_sums",
    "minimum_detectable_gap",
    "pooled_design_effect",
    "score_interval",
    "score_test",
    "segment_moments",
    "segment_query",
    "stored_gap_table",
    "stored_metrics",
    "traffic_to_decide",
    "trailing_gap_tables",
    "trailing_sums",
    "volume_gate",
    "weighted_p95",
    "weighted_p95_bootstrap",
]

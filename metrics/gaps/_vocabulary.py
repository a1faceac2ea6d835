"""The vocabulary of segment gaps: statuses and their words, the metrics by kind, the table's columns, the settings."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from metrics.registry import METRICS, Metric


class Status(enum.StrEnum):
    """What a comparison says (the values of the status column)."""

    CONFIRMED = "confirmed"
    WARNING = "warning"
    EXPLAINED_BY_TASK_MIX = "explained_by_task_mix"
    UNDERPOWERED = "underpowered"
    INSUFFICIENT_DATA = "insufficient_data"
    NONRESPONSE_BIASED = "nonresponse_biased"
    BELOW_MARGIN = "below_margin"
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
    Status.BELOW_MARGIN: "A real gap, but smaller than the margin: shown after correcting for every comparison, "
    "too small to act on.",
    Status.EQUIVALENT: "Served the same: any gap is within the margin.",
    Status.NO_EVIDENCE: "No evidence of a gap, but not enough to call it equivalent either.",
    Status.MODEL_FAILED: "The statistical model could not be fitted on this data (see the note).",
}


# The gap metrics, from the metric table (metrics.registry): a metric's kind chooses its test, its margin is the
# verdicts' margin. Keyed by the gap name that gap tables, decisions and alert rules carry.
GAP_METRICS: dict[str, Metric] = {m.gap.name: m for m in METRICS if m.gap is not None}

# Each status in two words and an icon, so that it reads without its colour (tables, legends, cards).
STATUS_LABELS: dict[str, str] = {
    Status.CONFIRMED: "✖ Real gap",
    Status.WARNING: "⚠ Early warning",
    Status.EXPLAINED_BY_TASK_MIX: "⇄ Task mix",
    Status.UNDERPOWERED: "… Needs traffic",
    Status.INSUFFICIENT_DATA: "∅ Too little data",
    Status.NONRESPONSE_BIASED: "? Too few ratings",
    Status.BELOW_MARGIN: "▿ Small gap",
    Status.EQUIVALENT: "✔ Served the same",
    Status.NO_EVIDENCE: "○ No evidence",
    Status.MODEL_FAILED: "! Not computed",
}


# Binary metrics: (events column, trials column) of gap_cells.
BINARY: dict[str, tuple[str, str]] = {
    name: m.gap.sums for name, m in GAP_METRICS.items() if m.kind == "binary" and m.gap and m.gap.sums
}
# Re-asks (metrics.reask): their count needs each session's requests in order, so gap_cells reads them only when
# a run compares them.
REASK = "reask_rate"


def _the_one(kind: str) -> str:
    """The gap metric of a kind that has one test of its own (its sums are specific to it)."""
    (name,) = (name for name, m in GAP_METRICS.items() if m.kind == kind)
    return name


# Every ratio of per-user sums whose cluster-robust variance a test needs: numerator -> denominator.
RATIOS: dict[str, str] = {
    **dict(BINARY.values()),
    "cost": "priced",  # cost per request, over requests whose cost is known
    "csat_sum": "csat_n",  # mean CSAT
}


# Other kinds: CSAT as ordinal, p95 latency as a quantile and cost per request as a mean, each compared as a ratio.
ORDINAL = _the_one("ordinal")


LATENCY = _the_one("quantile")


COST = _the_one("mean")


OTHER = (ORDINAL, LATENCY, COST)


ALL_METRICS = (*BINARY, *OTHER)


# What a gap run tests when no metric is named.
DEFAULT_METRICS = tuple(name for name, m in GAP_METRICS.items() if m.gap and m.gap.default)


# The practical margin of each gap metric (see metrics.registry.Metric).
MARGINS: dict[str, float] = {name: float(m.margin or 0.0) for name, m in GAP_METRICS.items()}


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
    # relative change (ratio - 1) for p95 latency and cost per request; the metric table's unless a run sets them.
    delta: dict[str, float] = field(default_factory=lambda: dict(MARGINS))
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
    reask_window_s: float = 600.0  # how soon a follow-up counts as a re-ask (metrics.reask)


# Told of long work: (stage, done, total).
Progress = Callable[[str, int, int], None]


def gap_label(metric: str) -> str:
    """A gap metric's name in a sentence ("resolution rate", "p95 latency"), from the metric table."""
    test = GAP_METRICS[metric].gap
    assert test is not None  # GAP_METRICS holds the metrics with a gap test only
    return test.label


def gap_words(metric: str, gap: float) -> str:
    """A gap (segment minus reference) as a PM reads it: "3.0 points lower" for a rate, "16.9% higher" for a
    quantile or a mean (a relative change)."""
    direction = "higher" if gap > 0 else "lower"
    return f"{abs(gap):.1%} {direction}" if GAP_METRICS[metric].relative else f"{abs(gap) * 100:.1f} points {direction}"


def join_note(note: str, more: str) -> str:
    """A note with one more clause."""
    return f"{note}; {more}" if note else more

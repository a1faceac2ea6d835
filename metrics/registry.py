"""The metric table: every metric once, with what it measures, how it reads and how its segment gaps are judged.

Everything that names a metric reads it from here: ``metrics NAME`` and its help, the gap tests (a metric's kind
chooses its test and its margin is the verdicts' margin), the alert rules and their sentences, the dashboard's
labels and the README's table (tests/test_metric_table.py walks every entry). Adding a metric is one entry here and
one SQL file, sql/queries/metric_<name>.sql (a binary gap metric also needs its two sums in gap_cells.sql).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

import pandas as pd

from metrics.dimensions import COLUMNS_FIRST, DimensionError, answers_from_rollup, fill, render
from metrics.reask import REASK_WINDOW_S, reask_source, window_ms
from metrics.window import window
from routewatch.sqlfiles import query
from routewatch.store import Store

Kind = Literal["count", "binary", "ordinal", "quantile", "mean"]
Better = Literal["higher", "lower", "neither"]


@dataclass(frozen=True, kw_only=True)
class GapTest:
    """How segment gaps judge a metric; the test itself is chosen by the metric's kind (binary: the score test;
    ordinal: Brunner-Munzel; quantile: the p95 ratio; mean: the ratio of means) and the margin is the metric's.

    ``name`` is the metric column of gap tables, stored decisions and alert rules; ``label`` its name in a sentence
    (left empty, the metric's own label in lower case: a gap of the metric itself);
    ``short`` the word of a verdict's evidence ("resolved 11.9 points lower"); ``sums`` a binary metric's (events,
    trials) columns of sql/queries/gap_cells.sql; ``default`` whether a gap run tests it when no metric is named.
    """

    name: str
    short: str
    label: str = ""
    sums: tuple[str, str] | None = None
    default: bool = False


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One metric: what it measures, how it reads, how its gaps are judged, and the SQL file that computes it.

    ``unit`` is what its value counts; ``better`` the direction that serves users better; ``margin`` the practical
    margin of its gaps (rate points for binary and ordinal metrics, a relative change for quantiles and means).
    """

    name: str
    label: str
    kind: Kind
    unit: str
    better: Better
    margin: float | None
    columns: tuple[str, ...]
    help: str
    gap: GapTest | None = None
    # Whether sql/queries/metric_<name>_rollup.sql answers it from rollup_daily (exactly, and much faster).
    rollup: bool = False

    def __post_init__(self) -> None:
        if self.gap is not None and not self.gap.label:  # a gap of the metric itself reads as the metric
            object.__setattr__(self, "gap", replace(self.gap, label=self.label.lower()))

    @property
    def relative(self) -> bool:
        """Whether its gaps are a relative change (ratio - 1) rather than a difference."""
        return self.kind in ("quantile", "mean")

    @property
    def sql(self) -> str:
        """The name of the query file, sql/queries/metric_<name>.sql."""
        return f"metric_{self.name}"


METRICS: tuple[Metric, ...] = (
    Metric(
        name="volume",
        label="Volume",
        kind="count",
        unit="requests",
        better="neither",
        margin=None,
        columns=("requests", "users", "cost_usd", "unpriced"),
        help="Requests, distinct users and model spend (cost_usd over every call, failed ones included), and the "
        "unpriced requests (neither a cost nor a price): counted in requests, never in cost_usd as $0.",
    ),
    Metric(
        name="escalation_rate",
        label="Escalation rate",
        kind="binary",
        unit="share of requests",
        better="neither",
        margin=0.02,
        columns=("requests", "escalated", "escalation_rate"),
        gap=GapTest(
            name="escalation_rate",
            short="escalated",
            sums=("escalated", "requests"),
            default=True,
        ),
        help="Share of requests the cascade moved to a stronger tier. Too low for a segment can mean it is "
        "left on the cheap path; too high, that it pays twice.",
        rollup=True,
    ),
    Metric(
        name="cost_per_resolved",
        label="All-in cost per resolved request",
        kind="mean",
        unit="USD",
        better="lower",
        margin=0.10,
        columns=(
            "requests",
            "cost_usd",
            "model_cost_usd",
            "resolved",
            "priced",
            "priced_resolved",
            "unpriced",
            "cost_per_resolved",
            "cost_per_request",
            "all_in_cost_per_request",
        ),
        gap=GapTest(name="cost_per_request", short="cost per request", label="cost per request"),
        help="All-in cost (cost_usd: model + router + human, over every priced request, failed and unresolved "
        "included) divided by resolved priced requests, beside the naive model spend per request (model_cost_usd / "
        "priced) and the all-in cost per request (cost_usd / priced). The difference is the point. An unpriced "
        "request (no cost, no price) is in requests and resolved, in no cost numerator or denominator.",
        rollup=True,
    ),
    Metric(
        name="latency",
        label="Latency",
        kind="quantile",
        unit="ms",
        better="lower",
        margin=0.15,
        columns=("requests", "p50_ms", "p95_ms", "p99_ms"),
        gap=GapTest(name="latency_p95", short="p95 latency", label="p95 latency"),
        help="End-to-end latency as the user saw it; exact quantiles, the same on every refresh.",
    ),
    Metric(
        name="ttft",
        label="Time to first token",
        kind="quantile",
        unit="ms",
        better="lower",
        margin=0.15,
        columns=("requests", "p50_ms", "p95_ms", "p99_ms"),
        help="Time to first token, over requests that report it.",
    ),
    Metric(
        name="error_rate",
        label="Error rate",
        kind="binary",
        unit="share of requests",
        better="lower",
        margin=0.02,
        columns=("requests", "errors", "error_rate"),
        gap=GapTest(name="error_rate", short="errors", sums=("errors", "requests"), default=True),
        help="Share of requests that ended in an error (status = error).",
        rollup=True,
    ),
    Metric(
        name="cheap_share",
        label="Answered on the cheap route",
        kind="binary",
        unit="share of requests",
        better="neither",
        margin=0.05,
        columns=("requests", "cheap", "cheap_share"),
        help="Share of requests answered by the cheapest route (the first of ROUTEWATCH_ROUTE_ORDER).",
        rollup=True,
    ),
    Metric(
        name="resolution_rate",
        label="Resolution rate",
        kind="binary",
        unit="share of known outcomes",
        better="higher",
        margin=0.03,
        columns=("requests", "resolved", "known", "resolution_rate"),
        gap=GapTest(name="resolution_rate", short="resolved", sums=("resolved", "known"), default=True),
        help="Resolved requests among those whose outcome is known (late feedback included).",
        rollup=True,
    ),
    Metric(
        name="thumbs_up_rate",
        label="Thumbs-up rate",
        kind="binary",
        unit="share of rated",
        better="higher",
        margin=0.03,
        columns=("requests", "rated", "thumbs_up", "thumbs_up_rate"),
        gap=GapTest(name="thumbs_up_rate", short="thumbs-up", sums=("thumbs_up", "rated"), default=True),
        help="Thumbs up among requests with a thumb (late feedback included).",
        rollup=True,
    ),
    Metric(
        name="csat",
        label="CSAT",
        kind="ordinal",
        unit="1..5",
        better="higher",
        margin=0.05,
        columns=("requests", "rated", "csat_total", "mean_csat"),
        gap=GapTest(name="csat", short="CSAT", label="CSAT (probability of a higher rating)"),
        help="Mean satisfaction score among rated requests, csat_total / rated (tested as ordinal, not as a mean).",
        rollup=True,
    ),
    Metric(
        name="feedback_coverage",
        label="Feedback coverage",
        kind="binary",
        unit="share of requests",
        better="higher",
        margin=None,
        columns=("requests", "rated", "feedback_coverage"),
        help="Share of requests with a thumb or a CSAT. Satisfaction is only seen where users rate.",
        rollup=True,
    ),
    Metric(
        name="shadow_divergence",
        label="Shadow divergence",
        kind="binary",
        unit="share of compared",
        better="neither",
        margin=None,
        columns=("requests", "compared", "diverged", "shadow_divergence", "unpriced", "shadow_cost_delta_usd"),
        help="Share of requests where a shadow router would have chosen another route, and what that would "
        "have cost more (or less), priced at each route's mean spend per priced request in the window. A shadow "
        "route that served no priced request has no price, and an unpriced request no cost: those are counted in "
        "unpriced and left out of the delta (NULL when no diverged request has a price).",
        rollup=True,
    ),
    Metric(
        name="router_overhead",
        label="Router overhead",
        kind="quantile",
        unit="ms",
        better="lower",
        margin=0.15,
        columns=("requests", "timed", "p50_ms", "p95_ms", "router_cost_usd", "unpriced"),
        help="What routing itself costs: the router's own latency (exact p50 and p95, over requests that "
        "report router_latency_ms) and its spend, router_cost_usd.",
    ),
    Metric(
        name="spend_concentration",
        label="Spend concentration",
        kind="mean",
        unit="share of spend",
        better="neither",
        margin=None,
        columns=("requests", "unpriced", "cost_usd", "top_1pct_cost_usd", "top_1pct_share"),
        help="Where the money goes: the all-in cost of the most expensive 1% of requests and their share of "
        "the spend. A high share means a few requests (long contexts, retries, escalations) drive the bill.",
    ),
    Metric(
        name="reask_rate",
        label="Re-ask rate",
        kind="binary",
        unit="share of requests",
        better="lower",
        margin=0.02,
        columns=("requests", "reasked", "reask_rate"),
        # Not in the default family (the decisions'): counting re-asks orders every session's requests.
        gap=GapTest(name="reask_rate", short="re-asked", sums=("reasked", "requests")),
        help="Share of requests the same user asked again: another request in the same session within the re-ask "
        "window (10 minutes unless ROUTEWATCH_REASK_WINDOW says otherwise), or an escalation for a user_retry. A "
        "quality signal that needs no feedback widget.",
    ),
)
METRICS_BY_NAME = {m.name: m for m in METRICS}

# How each column of a metric or gap table reads to a person: its label and its format (count: thousands
# separators; percent: a share shown as %; usd: dollars to a hundredth of a cent, for per-request costs;
# usd_total: dollars and cents; ms: whole milliseconds; score: a 1..5 mean; pvalue: scientific notation).
# Downloads and --format json keep the machine names and raw values.
Format = Literal["count", "percent", "usd", "usd_total", "ms", "score", "pvalue"]
COLUMN_FORMATS: dict[str, tuple[str, Format]] = {
    "requests": ("Requests", "count"),
    "users": ("Users", "count"),
    "cost_usd": ("All-in cost", "usd_total"),
    "model_cost_usd": ("Model spend", "usd_total"),
    "router_cost_usd": ("Router spend", "usd_total"),
    "cost_per_request": ("Model spend per request", "usd"),
    "all_in_cost_per_request": ("All-in cost per request", "usd"),
    "top_1pct_cost_usd": ("Cost of the top 1%", "usd_total"),
    "top_1pct_share": ("Share of spend in the top 1%", "percent"),
    "shadow_cost_delta_usd": ("Shadow cost difference", "usd_total"),
    "escalated": ("Escalated", "count"),
    "errors": ("Errors", "count"),
    "cheap": ("On the cheap route", "count"),
    "resolved": ("Resolved", "count"),
    "known": ("Known outcomes", "count"),
    "rated": ("Rated", "count"),
    "thumbs_up": ("Thumbs up", "count"),
    "reasked": ("Re-asked", "count"),
    "csat_total": ("CSAT points", "count"),
    "mean_csat": ("Mean CSAT", "score"),
    "compared": ("Compared", "count"),
    "diverged": ("Diverged", "count"),
    "unpriced": ("Unpriced", "count"),
    "priced": ("Priced", "count"),
    "priced_resolved": ("Priced and resolved", "count"),
    "timed": ("Timed", "count"),
    "p50_ms": ("p50", "ms"),
    "p95_ms": ("p95", "ms"),
    "p99_ms": ("p99", "ms"),
    "p_value": ("p-value", "pvalue"),
    "p_adjusted": ("Adjusted p-value", "pvalue"),
    # A column named after its metric takes the metric's label: a rate as a percentage, a cost per request in dollars.
    **{m.name: (m.label, "percent" if m.kind == "binary" else "usd") for m in METRICS if m.name in m.columns},
}


# The test each kind of gap metric gets (metrics.gaps), in words.
GAP_TEST_WORDS = {
    "binary": "score test, clustered by user",
    "ordinal": "Brunner-Munzel (probability of a higher rating)",
    "quantile": "ratio of p95s, user-level bootstrap",
    "mean": "ratio of means, clustered by user",
}


def _margin_words(metric: Metric) -> str:
    margin = metric.margin or 0.0
    if metric.relative:
        return f"{margin:+.0%}"
    return f"{margin:.2f}" if metric.kind == "ordinal" else f"{margin * 100:g} points"


def markdown_table() -> str:
    """The README's table of metrics, made from this table (tests/test_metric_table.py keeps the README equal)."""
    lines = ["| metric | what it measures | columns (after the `--by` ones) | segment gaps |", "|---|---|---|---|"]
    for m in METRICS:
        gap = f"`{m.gap.name}`: {GAP_TEST_WORDS[m.kind]}; margin {_margin_words(m)}" if m.gap else ""
        columns = ", ".join(f"`{c}`" for c in m.columns)
        lines.append(f"| `{m.name}` ({m.label}, {m.unit}) | {m.help} | {columns} | {gap} |")
    return "\n".join(lines)


class UnknownMetric(KeyError):
    """A metric name that is not in the registry."""


def _whole_days(since: datetime, until: datetime) -> bool:
    return all(t.astimezone(UTC).time() == datetime.min.time() for t in (since, until))


def get(name: str) -> Metric:
    """The registry entry for ``name``."""
    try:
        return METRICS_BY_NAME[name]
    except KeyError:
        raise UnknownMetric(f"unknown metric {name!r}: choose one of {', '.join(METRICS_BY_NAME)}") from None


def compute(
    store: Store,
    name: str,
    *,
    by: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    where: dict[str, str] | None = None,
    bucket: str | None = None,
    cheap_route: str = "cheap",
    exact: bool = False,
    reask_window_s: float = REASK_WINDOW_S,
) -> pd.DataFrame:
    """One metric as a frame: a ``bucket`` column if asked, one per ``by`` dimension, then the metric's columns.

    Cuts at whole days that the daily rollup can answer are read from it (the same numbers, far faster), unless
    ``exact`` asks for the request rows. ``reask_window_s`` is how soon a follow-up counts as a re-ask (metrics.reask).
    """
    metric = get(name)
    clash = set(by or []) & set(metric.columns)
    if clash:
        raise DimensionError(f"cannot cut {name} by {', '.join(sorted(clash))}: the metric has a column of that name")
    since, until = window(since, until)
    rollup = (
        metric.rollup and not exact and _whole_days(since, until) and answers_from_rollup(by or [], where or {}, bucket)
    )
    rendered = render(by or [], where or {}, bucket, rollup=rollup)
    params = {"since": since, "until": until, "cheap_route": cheap_route, **rendered.params}
    params["reask_window_ms"] = window_ms(reask_window_s)
    if rollup:
        params.update(since_day=since.date(), until_day=until.date())
    sql = query(f"{metric.sql}_rollup" if rollup else metric.sql)
    source = {"reask_source": reask_source()} if "reask_source" in sql.slots else {}
    frame = store.query_df(fill(sql, rendered, **source), params, settings=COLUMNS_FIRST)
    keys = [*(["bucket"] if bucket else []), *(by or [])]
    # An empty window or cut is no rows on both paths (without GROUP BY, SQL would answer one row of zeros).
    frame = frame.loc[frame["requests"].astype("int64") > 0, [*keys, *metric.columns]]
    if bucket:  # labelled in UTC whatever the host's time zone
        frame["bucket"] = pd.to_datetime(frame["bucket"]).dt.tz_localize("UTC")
    return frame.sort_values(keys, ignore_index=True) if keys else frame


if __name__ == "__main__":
    print(markdown_table())

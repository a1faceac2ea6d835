"""The metric registry: one table of metrics that the CLI, the dashboard, the alerts and the tests read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import pandas as pd

from metrics.dimensions import COLUMNS_FIRST, DimensionError, answers_from_rollup, fill, render
from metrics.window import window
from routewatch.sqlfiles import query
from routewatch.store import Store

Kind = Literal["count", "binary", "ordinal", "quantile", "mean"]
Better = Literal["higher", "lower", "neither"]


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One metric: what it measures, how it is judged, and the SQL file that computes it."""

    name: str
    kind: Kind
    unit: str
    better: Better
    margin: float | None
    columns: tuple[str, ...]
    help: str
    # Whether sql/queries/metric_<name>_rollup.sql answers it from rollup_daily (exactly, and much faster).
    rollup: bool = False

    @property
    def sql(self) -> str:
        """The name of the query file, sql/queries/metric_<name>.sql."""
        return f"metric_{self.name}"


METRICS: tuple[Metric, ...] = (
    Metric(
        name="volume",
        kind="count",
        unit="requests",
        better="neither",
        margin=None,
        columns=("requests", "users", "cost_usd"),
        help="Requests, distinct users and model spend (cost_usd over every call, failed ones included).",
    ),
    Metric(
        name="escalation_rate",
        kind="binary",
        unit="share of requests",
        better="neither",
        margin=0.02,
        columns=("requests", "escalated", "escalation_rate"),
        help="Share of requests the cascade moved to a stronger tier. Too low for a segment can mean it is "
        "left on the cheap path; too high, that it pays twice.",
        rollup=True,
    ),
    Metric(
        name="cost_per_resolved",
        kind="mean",
        unit="USD",
        better="lower",
        margin=0.10,
        columns=(
            "requests",
            "cost_usd",
            "model_cost_usd",
            "resolved",
            "cost_per_resolved",
            "cost_per_request",
            "all_in_cost_per_request",
        ),
        help="All-in cost (cost_usd: model + router + human, over every request, failed and unresolved included) "
        "divided by resolved requests, beside the naive model spend per request (model_cost_usd / requests) and the "
        "all-in cost per request (cost_usd / requests). The difference is the point.",
        rollup=True,
    ),
    Metric(
        name="latency",
        kind="quantile",
        unit="ms",
        better="lower",
        margin=0.15,
        columns=("requests", "p50_ms", "p95_ms", "p99_ms"),
        help="End-to-end latency as the user saw it; exact quantiles, the same on every refresh.",
    ),
    Metric(
        name="ttft",
        kind="quantile",
        unit="ms",
        better="lower",
        margin=0.15,
        columns=("requests", "p50_ms", "p95_ms", "p99_ms"),
        help="Time to first token, over requests that report it.",
    ),
    Metric(
        name="error_rate",
        kind="binary",
        unit="share of requests",
        better="lower",
        margin=0.02,
        columns=("requests", "errors", "error_rate"),
        help="Share of requests that ended in an error (status = error).",
        rollup=True,
    ),
    Metric(
        name="cheap_share",
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
        kind="binary",
        unit="share of known outcomes",
        better="higher",
        margin=0.03,
        columns=("requests", "resolved", "known", "resolution_rate"),
        help="Resolved requests among those whose outcome is known (late feedback included).",
        rollup=True,
    ),
    Metric(
        name="thumbs_up_rate",
        kind="binary",
        unit="share of rated",
        better="higher",
        margin=0.03,
        columns=("requests", "rated", "thumbs_up", "thumbs_up_rate"),
        help="Thumbs up among requests with a thumb (late feedback included).",
        rollup=True,
    ),
    Metric(
        name="csat",
        kind="ordinal",
        unit="1..5",
        better="higher",
        margin=0.05,
        columns=("requests", "rated", "csat_total", "mean_csat"),
        help="Mean satisfaction score among rated requests, csat_total / rated (tested as ordinal, not as a mean).",
        rollup=True,
    ),
    Metric(
        name="feedback_coverage",
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
        kind="binary",
        unit="share of compared",
        better="neither",
        margin=None,
        columns=("requests", "compared", "diverged", "shadow_divergence", "unpriced", "shadow_cost_delta_usd"),
        help="Share of requests where a shadow router would have chosen another route, and what that would "
        "have cost more (or less), priced at each route's mean spend per request in the window. A shadow route "
        "that served nothing in the window has no price: its requests are counted in unpriced and left out of the "
        "delta (NULL when no diverged request has a price).",
        rollup=True,
    ),
    Metric(
        name="router_overhead",
        kind="quantile",
        unit="ms",
        better="lower",
        margin=0.15,
        columns=("requests", "timed", "p50_ms", "p95_ms", "router_cost_usd"),
        help="What routing itself costs: the router's own latency (exact p50 and p95, over requests that "
        "report router_latency_ms) and its spend, router_cost_usd.",
    ),
    Metric(
        name="spend_concentration",
        kind="mean",
        unit="share of spend",
        better="neither",
        margin=None,
        columns=("requests", "cost_usd", "top_1pct_cost_usd", "top_1pct_share"),
        help="Where the money goes: the all-in cost of the most expensive 1% of requests and their share of "
        "the spend. A high share means a few requests (long contexts, retries, escalations) drive the bill.",
    ),
)
METRICS_BY_NAME = {m.name: m for m in METRICS}


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
) -> pd.DataFrame:
    """One metric as a frame: a ``bucket`` column if asked, one per ``by`` dimension, then the metric's columns.

    Cuts at whole days that the daily rollup can answer are read from it (the same numbers, far faster), unless
    ``exact`` asks for the request rows.
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
    if rollup:
        params.update(since_day=since.date(), until_day=until.date())
    sql = query(f"{metric.sql}_rollup" if rollup else metric.sql).text
    frame = store.query_df(fill(sql, rendered), params, settings=COLUMNS_FIRST)
    keys = [*(["bucket"] if bucket else []), *(by or [])]
    # An empty window or cut is no rows on both paths (without GROUP BY, SQL would answer one row of zeros).
    frame = frame.loc[frame["requests"].astype("int64") > 0, [*keys, *metric.columns]]
    if bucket:  # labelled in UTC whatever the host's time zone
        frame["bucket"] = pd.to_datetime(frame["bucket"]).dt.tz_localize("UTC")
    return frame.sort_values(keys, ignore_index=True) if keys else frame

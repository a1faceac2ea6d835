"""The metric registry: one table of metrics that the CLI, the dashboard, the alerts and the tests read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import pandas as pd

from metrics.dimensions import fill, render
from routewatch.sqlfiles import query
from routewatch.store import Store

Kind = Literal["count", "binary", "ordinal", "quantile", "mean"]
Better = Literal["higher", "lower", "neither"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(2200, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One metric: what it measures, how it is judged, and the SQL file that computes it."""

    name: str
    kind: Kind
    unit: str
    better: Better
    margin: float | None
    sql: str
    columns: tuple[str, ...]
    help: str


METRICS: tuple[Metric, ...] = (
    Metric(
        name="volume",
        kind="count",
        unit="requests",
        better="neither",
        margin=None,
        sql="volume",
        columns=("requests", "users", "cost_usd"),
        help="Requests, distinct users and model spend (cost_usd summed over every call, failed ones included).",
    ),
)
METRICS_BY_NAME = {m.name: m for m in METRICS}


class UnknownMetric(KeyError):
    """A metric name that is not in the registry."""


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
) -> pd.DataFrame:
    """One metric as a frame: one column per ``by`` dimension, then the metric's columns."""
    metric = get(name)
    rendered = render(by or [], where or {})
    params = {"since": since or EPOCH, "until": until or FAR_FUTURE, **rendered.params}
    frame = store.query_df(fill(query(metric.sql).text, rendered), params)
    return frame[[*(by or []), *metric.columns]]

"""The gap table from the store: the per-user sums of gap_cells and gap_moments, the latency samples."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pandas as pd

from metrics.dimensions import expression, fill, render
from metrics.gaps._sums import (
    moments_and_tasks,
)
from metrics.gaps._table import gap_table_from_cells
from metrics.gaps._vocabulary import (
    COST,
    DEFAULT_METRICS,
    LATENCY,
    ORDINAL,
    GapSettings,
    Progress,
)
from metrics.window import EPOCH, FAR_FUTURE
from routewatch.sqlfiles import part, query
from routewatch.store import Store

# The grains gap_cells can return: (SQL for the grain column, GROUP BY keys).
GRAINS = {
    "cell": ("'cell'", "seg, task_type, user_key"),
    "groups": (
        "if(grouping(user_key) = 0, 'user', 'task')",
        "GROUPING SETS ((user_key), (seg, task_type))",
    ),
}


def _more_slots(wanted: bool, *slots: str) -> dict[str, str]:
    """Slots filled with their parts gap_more_<slot> (the columns CSAT and cost need), or emptied."""
    return {slot: part(f"gap_more_{slot}").render() if wanted else "" for slot in slots}


def segment_query(
    name: str,
    dimension: str,
    where: dict[str, str] | None,
    params: dict[str, Any],
    grain: str = "cell",
    more: bool = False,
) -> str:
    """A gap query with its segment, filter and grain slots filled (identifiers allow-listed, values bound), and with
    ``more`` the columns CSAT and cost need. The grain ``moments`` wraps the ``groups`` grain in gap_moments."""
    rendered = render([], where or {})
    params.update(rendered.params)
    slots = {"segment": expression(dimension, "segment_key", params)}
    if name == "gap_cells":
        column, keys = GRAINS["groups" if grain == "moments" else grain]
        slots.update(grain_column=column, grain_keys=keys, **_more_slots(more, "counts", "window", "sums"))
    sql = fill(query(name), rendered, **slots)
    if grain == "moments":
        sql = query("gap_moments").render(cells=sql, **_more_slots(more, "moments"))
    return sql


def load_cells(
    store: Store,
    dimension: str,
    since: datetime | None = None,
    until: datetime | None = None,
    where: dict[str, str] | None = None,
    grain: str = "cell",
    more: bool = True,
) -> pd.DataFrame:
    """Per-(segment, task_type, user) counts for one allow-listed dimension (or, with grain ``groups``, the
    per-user and per-task sums; with grain ``moments``, what the tests need of them: per segment, its sums and their
    moments over users, and per (segment, task_type), its sums); without ``more``, only the counts of the binary
    metrics (not the spend and ratings that CSAT and cost need)."""
    params: dict[str, Any] = {"since": since or EPOCH, "until": until or FAR_FUTURE}
    return store.query_df(segment_query("gap_cells", dimension, where, params, grain, more), params)


def load_latency(
    store: Store,
    dimension: str,
    cells: pd.DataFrame,
    cap: int,
    since: datetime | None,
    until: datetime | None,
    where: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Latencies of whole users sampled by hash, about ``cap`` requests per segment."""
    volume = moments_and_tasks(cells)[0]["requests"]
    share = {str(k): int(min(100, max(1, math.ceil(100 * cap / max(v, 1))))) for k, v in volume.items()}
    params: dict[str, Any] = {
        "since": since or EPOCH,
        "until": until or FAR_FUTURE,
        "segments": list(share),
        "shares": list(share.values()),
    }
    return store.query_df(segment_query("gap_latency_sample", dimension, where, params), params)


def gap_table(
    store: Store,
    dimensions: list[str],
    settings: GapSettings | None = None,
    *,
    metrics: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    where: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """The gap table of ``dimensions`` over a time range (all binary metrics unless ``metrics`` narrows it).

    ``where`` keeps only the requests of a cut (a router version, a tier, ...), as in ``metrics.registry``;
    ``progress`` is told of the comparisons as in ``gap_table_from_cells``.
    """
    settings = settings or GapSettings()
    grain = "cell" if settings.audit else "moments"  # the audit's models fit on the cells
    more = bool(set(metrics or DEFAULT_METRICS) & {ORDINAL, COST})
    cells = {d: load_cells(store, d, since, until, where, grain, more) for d in dimensions}
    latency = None
    if metrics and LATENCY in metrics:
        latency = {d: load_latency(store, d, cells[d], settings.bootstrap_cap, since, until, where) for d in dimensions}
    return gap_table_from_cells(cells, settings, metrics, latency, progress)

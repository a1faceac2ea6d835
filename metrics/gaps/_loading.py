"""The gap table from the store: the per-user sums of gap_cells and gap_moments, the latency samples; on a store
whose users each live on one shard, the same sums computed shard by shard and merged (``Shards``)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from metrics.dimensions import expression, fill, render
from metrics.gaps._sums import (
    merge_shard_sums,
    moments_and_tasks,
)
from metrics.gaps._table import gap_table_from_cells
from metrics.gaps._vocabulary import (
    COST,
    DEFAULT_METRICS,
    LATENCY,
    ORDINAL,
    REASK,
    GapSettings,
    Progress,
)
from metrics.reask import reask_source, window_ms
from metrics.window import EPOCH, FAR_FUTURE
from routewatch.sqlfiles import part, query
from routewatch.store import Store, check_cluster_name

# The grains gap_cells can return: (SQL for the grain column, GROUP BY keys).
GRAINS = {
    "cell": ("'cell'", "seg, task_type, user_key"),
    "groups": (
        "if(grouping(user_key) = 0, 'user', 'task')",
        "GROUPING SETS ((user_key), (seg, task_type))",
    ),
}


def _more_slots(wanted: bool, *slots: str, bound_means: bool = False) -> dict[str, str]:
    """Slots filled with their parts gap_more_<slot> (the columns CSAT and cost need), or emptied; with
    ``bound_means`` the window slot takes cost's task means as bound parameters (gap_more_window_bound)."""
    names = {
        slot: f"gap_more_{slot}_bound" if slot == "window" and bound_means else f"gap_more_{slot}" for slot in slots
    }
    return {slot: part(name).render() if wanted else "" for slot, name in names.items()}


def _reask_slots(wanted: bool, *slots: str) -> dict[str, str]:
    """Slots reask_<x> filled with their parts gap_reask_<x> (the re-asks), or emptied."""
    return {slot: part(f"gap_{slot}").render() if wanted else "" for slot in slots}


def segment_query(
    name: str,
    dimension: str,
    where: dict[str, str] | None,
    params: dict[str, Any],
    grain: str = "cell",
    more: bool = False,
    reask: bool = False,
    bound_means: bool = False,
) -> str:
    """A gap query with its segment, filter and grain slots filled (identifiers allow-listed, values bound), with
    ``more`` the columns CSAT and cost need (with ``bound_means``, cost's task means are the parameters ``mean_keys``
    and ``task_means``) and with ``reask`` the re-asks (``params`` then needs reask_window_ms). The grain
    ``moments`` wraps the ``groups`` grain in gap_moments."""
    rendered = render([], where or {})
    params.update(rendered.params)
    slots = {"segment": expression(dimension, "segment_key", params)}
    if name == "gap_cells":
        column, keys = GRAINS["groups" if grain == "moments" else grain]
        slots.update(
            grain_column=column,
            grain_keys=keys,
            **_more_slots(more, "counts", "window", "sums", bound_means=bound_means),
        )
        slots.update(reask_source=reask_source(reask), **_reask_slots(reask, "reask_counts", "reask_sums"))
    sql = fill(query(name), rendered, **slots)
    if grain == "moments":
        sql = query("gap_moments").render(
            cells=sql, **_more_slots(more, "moments"), **_reask_slots(reask, "reask_moments")
        )
    return sql


@dataclass(frozen=True)
class Shards:
    """The shards of a store that keeps each user's requests on one shard (sharded by cityHash64(user_id)): a gap
    query runs on every shard over its own rows, and only its per-segment sums come back, to be merged by
    ``merge_shard_sums``. Either the shards of a ClickHouse cluster, reached through ``store`` with the ``cluster``
    table function, or separate ``stores`` that each hold one shard's rows."""

    stores: tuple[Store, ...] = ()
    store: Store | None = None
    cluster: str = ""

    @classmethod
    def of_cluster(cls, store: Store, cluster: str) -> Shards:
        """The shards of ``cluster`` (the name ``routewatch migrate --cluster`` was given), through ``store``.
        Raises ``ValueError`` for a name that is not a cluster name."""
        return cls(store=store, cluster=check_cluster_name(cluster))

    @classmethod
    def of_stores(cls, stores: Sequence[Store]) -> Shards:
        """Stores that each hold one shard's rows, whole users each."""
        return cls(stores=tuple(stores))

    def run(self, sql: str, params: dict[str, Any]) -> list[pd.DataFrame]:
        """The rows ``sql`` (a query written against requests_live) returns on each shard."""
        if self.store is None:
            return [store.query_df(sql, params) for store in self.stores]
        return [self.store.query_df(self.for_cluster(sql), params)]

    def for_cluster(self, sql: str) -> str:
        """``sql`` run on every shard of the cluster over the shard's own live rows (sql/queries/cluster_shards.sql):
        each shard's result rows, one after the other."""
        local = re.sub(r"\brequests_live\b", part("cluster_shard_live").render(), sql)
        return query("cluster_shards").render(cluster=self.cluster, query=local)


def load_cells(
    store: Store,
    dimension: str,
    since: datetime | None = None,
    until: datetime | None = None,
    where: dict[str, str] | None = None,
    grain: str = "cell",
    more: bool = True,
    reask_window_s: float | None = None,
    shards: Shards | None = None,
) -> pd.DataFrame:
    """Per-(segment, task_type, user) counts for one allow-listed dimension (or, with grain ``groups``, the
    per-user and per-task sums; with grain ``moments``, what the tests need of them: per segment, its sums and their
    moments over users, and per (segment, task_type), its sums); without ``more``, only the counts of the binary
    metrics (not the spend and ratings that CSAT and cost need); with ``reask_window_s``, the re-asks counted with
    that window too. With ``shards``, computed on each shard and merged: the same rows (``_sharded_cells``)."""
    params: dict[str, Any] = {"since": since or EPOCH, "until": until or FAR_FUTURE}
    reask = reask_window_s is not None
    if reask_window_s is not None:
        params["reask_window_ms"] = window_ms(reask_window_s)
    if shards is not None:
        return _sharded_cells(shards, dimension, where, params, grain, more, reask)
    return store.query_df(segment_query("gap_cells", dimension, where, params, grain, more, reask), params)


def _sharded_cells(
    shards: Shards,
    dimension: str,
    where: dict[str, str] | None,
    params: dict[str, Any],
    grain: str,
    more: bool,
    reask: bool,
) -> pd.DataFrame:
    """``load_cells`` shard by shard. Every sum is over whole users, so the shards' sums add up, except cost's
    residuals from its segment's task means (cost_within), which need the means over every shard: with ``more`` a
    first pass finds them and a second binds them."""
    sql = segment_query("gap_cells", dimension, where, params, grain, more, reask)
    merged = merge_shard_sums(shards.run(sql, params))
    if not more:
        return merged
    tasks = moments_and_tasks(merged)[1]
    tasks = tasks[tasks["priced"] > 0]
    bound = {
        **params,
        "mean_keys": [(str(segment), str(task)) for segment, task in tasks.index],
        "task_means": [float(mean) for mean in tasks["cost"] / tasks["priced"]],
    }
    sql = segment_query("gap_cells", dimension, where, bound, grain, more, reask, bound_means=True)
    return merge_shard_sums(shards.run(sql, bound))


def load_latency(
    store: Store,
    dimension: str,
    cells: pd.DataFrame,
    cap: int,
    since: datetime | None,
    until: datetime | None,
    where: dict[str, str] | None = None,
    shards: Shards | None = None,
) -> pd.DataFrame:
    """Latencies of whole users sampled by hash, about ``cap`` requests per segment (with ``shards``, each shard's
    users)."""
    volume = moments_and_tasks(cells)[0]["requests"]
    share = {str(k): int(min(100, max(1, math.ceil(100 * cap / max(v, 1))))) for k, v in volume.items()}
    params: dict[str, Any] = {
        "since": since or EPOCH,
        "until": until or FAR_FUTURE,
        "segments": list(share),
        "shares": list(share.values()),
    }
    sql = segment_query("gap_latency_sample", dimension, where, params)
    sample = pd.concat(shards.run(sql, params)) if shards is not None else store.query_df(sql, params)
    # In one order whatever order the engine's threads (or the shards) returned the rows in: the bootstrap draws
    # users by their position, so the same rows give the same interval on every run.
    return sample.sort_values(["segment", "user_id", "latency_ms", "task_type", "hour_of_day"], ignore_index=True)


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
    shards: Shards | None = None,
) -> pd.DataFrame:
    """The gap table of ``dimensions`` over a time range (all binary metrics unless ``metrics`` narrows it).

    ``where`` keeps only the requests of a cut (a router version, a tier, ...), as in ``metrics.registry``;
    ``progress`` is told of the comparisons as in ``gap_table_from_cells``; with ``shards`` (by default the shards
    of the cluster the store's DSN names) the sums are computed on each shard of a store sharded by user and
    merged (``Shards``), the same table.
    """
    settings = settings or GapSettings()
    if shards is None and store.cluster:
        shards = Shards.of_cluster(store, store.cluster)
    grain = "cell" if settings.audit else "moments"  # the audit's models fit on the cells
    more = bool(set(metrics or DEFAULT_METRICS) & {ORDINAL, COST})
    reask_window_s = settings.reask_window_s if REASK in (metrics or []) else None
    cells = {d: load_cells(store, d, since, until, where, grain, more, reask_window_s, shards) for d in dimensions}
    latency = None
    if metrics and LATENCY in metrics:
        cap = settings.bootstrap_cap
        latency = {d: load_latency(store, d, cells[d], cap, since, until, where, shards) for d in dimensions}
    return gap_table_from_cells(cells, settings, metrics, latency, progress)

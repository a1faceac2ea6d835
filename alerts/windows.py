"""Stored trailing windows: the judge job keeps, as of each of the last 28 closed UTC days, the gap table of the
last 7, 14 and 28 closed days over every router and over each router version that served in the window, for each
dimension it judges, on the default metrics (``metrics.gaps.trailing_gap_tables``, the same tables the live
computation gives). The dashboard's usual views read them instead of scanning the window's requests
(``metrics.gaps.stored_gap_table``).

A table is written once and computed again only when a request of its window has changed since (a late request,
late feedback, a replaced version): each carries the newest request version of its window, and each run compares.
"""

from __future__ import annotations

import time as clock
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd

from metrics.gaps import (
    EVERY_ROUTER,
    GAP_ROW_FIELDS,
    WINDOW_DAYS,
    GapSettings,
    Progress,
    TrailingWindow,
    stored_metrics,
    trailing_gap_tables,
)
from routewatch.sqlfiles import query
from routewatch.store import Store

AS_OF_DAYS = 28  # the closed days, newest first, as of which the trailing windows are kept
# A (window, dimension) with a single segment has no comparison: this row says that its empty table is stored.
EMPTY_MARKER = {"position": 0, "metric": "", "segment": "", "reference": "", "status": "", "note": "no comparison"}


@dataclass(frozen=True)
class WindowRun:
    """What one run stored: windows computed (an as-of day, a length and a router), the tables written (one per
    dimension), the windows already current, the seconds it took."""

    computed: int
    tables: int
    current: int
    seconds: float


def _windows(versions: pd.DataFrame, last_closed: date) -> dict[TrailingWindow, int]:
    """Every trailing window to keep, with the newest request version of its days: as of each of the last
    ``AS_OF_DAYS`` closed days that end on or after the first day of data, over every router and each router that
    served in the window."""
    if versions.empty:
        return {}
    days = pd.to_datetime(versions["day"]).dt.date
    newest = dict(zip(days, versions["version"].astype("uint64"), strict=True))
    served = versions.assign(day=days)
    first_day, last_day = min(days), min(max(days), last_closed)
    wanted: dict[TrailingWindow, int] = {}
    for back in range(AS_OF_DAYS):
        as_of = last_day - timedelta(days=back)
        if as_of < first_day:
            break
        for length in WINDOW_DAYS:
            window = TrailingWindow(as_of, length)
            inside = served[(served["day"] >= window.first) & (served["day"] <= as_of)]
            version = max(int(newest[d]) for d in set(inside["day"]))
            wanted[window] = version
            for router in sorted(set(inside.loc[inside["requests"] > 0, "router"]) - {EVERY_ROUTER}):
                wanted[TrailingWindow(as_of, length, str(router))] = version
    return wanted


def store_windows(
    store: Store,
    dimensions: Sequence[str],
    *,
    now: datetime | None = None,
    settings: GapSettings | None = None,
    progress: Progress | None = None,
) -> WindowRun:
    """Compute and store the trailing windows that are missing or whose requests changed since they were stored."""
    started = clock.monotonic()
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    last_closed = today - timedelta(days=1)
    since = datetime.combine(last_closed - timedelta(days=AS_OF_DAYS + max(WINDOW_DAYS) - 2), time(), tzinfo=UTC)
    until = datetime.combine(today, time(), tzinfo=UTC)
    wanted = _windows(store.query_df(query("gap_windows_versions").text, {"since": since, "until": until}), last_closed)
    if not wanted:
        return WindowRun(0, 0, 0, round(clock.monotonic() - started, 3))
    metrics = stored_metrics()
    stored = store.query_df(
        query("gap_windows_current").text,
        {"first": min(w.as_of for w in wanted), "last": max(w.as_of for w in wanted), "metrics": metrics},
    )
    have = {
        (TrailingWindow(pd.Timestamp(r.as_of).date(), int(r.days), str(r.router)), str(r.dimension)): int(
            r.data_version
        )
        for r in stored.itertuples(index=False)
    }
    pending = sorted(w for w, version in wanted.items() if any(have.get((w, d)) != version for d in dimensions))
    tables = {(w, d): pd.DataFrame([EMPTY_MARKER]) for w in pending for d in dimensions}  # until computed
    for window, dimension, table in trailing_gap_tables(store, dimensions, pending, settings, progress):
        tables[(window, dimension)] = table.assign(position=range(len(table)))
    if tables:
        store.insert_df("gap_windows", _typed(_keyed(tables, wanted, metrics)))
    return WindowRun(len(pending), len(tables), len(wanted) - len(pending), round(clock.monotonic() - started, 3))


def _keyed(
    tables: dict[tuple[TrailingWindow, str], pd.DataFrame], versions: dict[TrailingWindow, int], metrics: str
) -> pd.DataFrame:
    """Every table's rows, each with the keys of its window and dimension, in one frame."""
    keys = list(tables)
    sizes = [len(table) for table in tables.values()]
    frame = pd.concat(tables.values(), ignore_index=True)
    return frame.assign(
        as_of=np.repeat([w.as_of for w, _ in keys], sizes),
        days=np.repeat([w.days for w, _ in keys], sizes),
        router=np.repeat([w.router for w, _ in keys], sizes),
        dimension=np.repeat([d for _, d in keys], sizes),
        metrics=metrics,
        data_version=np.repeat(np.array([versions[w] for w, _ in keys], dtype=np.uint64), sizes),
        computed_at=pd.Timestamp.now(tz="UTC"),
    )


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame in the column types of gap_windows (numbers NaN where a contrast did not reach them)."""
    integers = ("position", "requests", "users", "reference_requests", "days")
    texts = ("segment", "reference", "metric", "status", "note", "router", "dimension")
    for column in GAP_ROW_FIELDS:
        if column not in frame:
            frame[column] = None
    for column in frame.columns:
        if column in integers:
            frame[column] = frame[column].fillna(0).astype("uint64")
        elif column in texts:
            frame[column] = frame[column].fillna("").astype(str)
        elif column in ("severity", "adjusted_by"):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
        elif column not in ("as_of", "metrics", "data_version", "computed_at"):
            frame[column] = frame[column].astype(float)
    return frame

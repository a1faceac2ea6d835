"""Trailing windows: the gap tables of the last 7, 14 and 28 closed UTC days as of each closed day, over every
router and over each router version, computed together from one scan.

The live gap query (gap_cells at its moments grain) groups one window's requests by user, puts each user in their
modal segment and sums the users' counts and their squares per segment. Here one scan (gap_window_days) returns the
requests of the span of every window (user, day, router, task type, segment of each dimension, what each adds to
the counts); a window's counts of a user are differences of cumulative sums over days, the squares are taken per
user, and the users who keep their segments are summed in runs, many windows at once. A user whose segment changes
within the span is placed in each window's modal segment (ties to the greatest name, as gap_modal_segment). Every
sum is a sum of integers in float64, checked below 2**53, so it is exact: the sums, and the tables the statistics
give from them, are those of the live computation (tests/test_trailing.py compares them cell by cell).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd

from metrics.dimensions import expression
from metrics.gaps._sums import DimensionSums
from metrics.gaps._table import GAP_ROW_FIELDS, TASK_TYPE, gap_table_from_sums
from metrics.gaps._vocabulary import DEFAULT_METRICS, GapSettings, Progress
from routewatch.sqlfiles import query
from routewatch.store import Store

WINDOW_DAYS = (7, 14, 28)  # the trailing windows stored as of each closed day
EVERY_ROUTER = ""  # the router of a window over every router version

# The counts of the binary metrics, the trials whose users are counted, and the products summed over users, in the
# order sql/queries/gap_moments.sql returns them.
COUNTS = ("requests", "escalated", "errors", "known", "resolved", "rated", "thumbs_up")
USERS_OF = ("requests", "known", "rated")
PRODUCTS = (
    ("requests", "requests"),
    ("known", "known"),
    ("rated", "rated"),
    ("escalated", "escalated"),
    ("escalated", "requests"),
    ("errors", "errors"),
    ("errors", "requests"),
    ("resolved", "resolved"),
    ("resolved", "known"),
    ("thumbs_up", "thumbs_up"),
    ("thumbs_up", "rated"),
)
MOMENTS = (
    *COUNTS,
    "users",
    *(f"users_{trials}" for trials in USERS_OF),
    *(f"sq_{a}" if a == b else f"{a}_x_{b}" for a, b in PRODUCTS),
)
EXACT_BELOW = 2.0**53  # integers summed in float64 are exact below this
USER_BATCH = 8_192  # users in a tile: their cumulative counts (days x 7 x users) and a tile of
# WINDOW_BATCH windows (windows x 22 x users, in float64) stay in the processor's cache
WINDOW_BATCH = 12  # windows whose per-user sums are held at once


@dataclass(frozen=True, order=True)
class TrailingWindow:
    """The ``days`` whole UTC days that end with ``as_of`` (inclusive), over one router version or every one."""

    as_of: date
    days: int
    router: str = EVERY_ROUTER

    @property
    def first(self) -> date:
        """The window's first day."""
        return self.as_of - timedelta(days=self.days - 1)

    @property
    def since(self) -> datetime:
        """The window's start, inclusive (UTC midnight of its first day)."""
        return datetime.combine(self.first, time(), tzinfo=UTC)

    @property
    def until(self) -> datetime:
        """The window's end, exclusive (UTC midnight after ``as_of``)."""
        return datetime.combine(self.as_of + timedelta(days=1), time(), tzinfo=UTC)

    @property
    def where(self) -> dict[str, str]:
        """The window's cut as ``metrics`` takes it."""
        return {"router": self.router} if self.router != EVERY_ROUTER else {}

    @classmethod
    def of_view(cls, first: date, last: date, where: dict[str, str]) -> TrailingWindow | None:
        """The trailing window a view of whole days from ``first`` to ``last`` with the cut ``where`` is, or None
        when it is none (another length, or a cut other than a router version)."""
        days = (last - first).days + 1
        # A cut on the empty router name is a cut, not every router: no stored window holds it.
        if days not in WINDOW_DAYS or set(where) - {"router"} or where.get("router") == EVERY_ROUTER:
            return None
        return cls(last, days, where.get("router", EVERY_ROUTER))


@dataclass(frozen=True)
class _Span:
    """The scan's requests as arrays, ordered by batch of users; users numbered so that those who keep one segment
    of every dimension over the span come first, grouped by their segments (``combo``), and those whose segment
    changes (movers) last."""

    first: date
    days: int
    users: np.ndarray  # user number per row; users // USER_BATCH is non-decreasing
    day: np.ndarray
    router: np.ndarray  # codes into router_names
    router_names: list[str]
    task: np.ndarray  # codes into task_names
    task_names: list[str]
    segments: list[np.ndarray]  # per dimension, codes into segment_names (name order)
    segment_names: list[list[str]]
    counts: np.ndarray  # COUNTS x rows, uint8 (one request a row)
    combo: np.ndarray  # per user, the row of ``combos`` holding their segments, -1 for a mover
    combos: np.ndarray  # combos x dimensions: segment codes

    @property
    def n_users(self) -> int:
        return len(self.combo)


def _codes(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Codes in name order (ClickHouse's order of strings is their code points', as Python's) and the names."""
    categorical = pd.Categorical(values)
    names = sorted(str(name) for name in categorical.categories)
    categorical = categorical.rename_categories([str(c) for c in categorical.categories]).reorder_categories(names)
    return categorical.codes.astype(np.int64), names


def segment_columns(dimensions: Sequence[str], params: dict[str, object]) -> str:
    """The segments slot of gap_window_days: each allow-listed dimension's segment as ``s0``, ``s1``, ... (a
    segments.<key> binds its key in ``params``). Raises ``DimensionError`` for a dimension off the allow-list."""
    return ",\n".join(
        f"toLowCardinality(toString({expression(name, f'segment_key_{number}', params)})) AS s{number}"
        for number, name in enumerate(dimensions)
    )


def _scan(store: Store, dimensions: Sequence[str], first: date, last: date) -> _Span:
    since = datetime.combine(first, time(), tzinfo=UTC)
    params: dict[str, object] = {"since": since, "until": since + timedelta(days=(last - first).days + 1)}
    rows = store.query_arrow_df(query("gap_window_days").render(segments=segment_columns(dimensions, params)), params)
    # A request adds 1 to requests and its flags (gap_flags) to the other counts.
    counts = np.vstack([np.ones(len(rows), np.uint8), rows[[f"flag_{c}" for c in COUNTS[1:]]].to_numpy(np.uint8).T])
    users = pd.factorize(rows["user_key"].to_numpy())[0].astype(np.int64)
    n_users = int(users.max()) + 1 if len(users) else 0
    segments, segment_names = zip(*(_codes(rows[f"s{number}"]) for number in range(len(dimensions))), strict=True)
    own, mover = [], np.zeros(n_users, bool)
    for codes, names in zip(segments, segment_names, strict=True):
        present = np.bincount(users * len(names) + codes, minlength=n_users * len(names)).reshape(n_users, -1) > 0
        own.append(np.argmax(present, axis=1))
        mover |= present.sum(axis=1) > 1
    combos, combo = np.unique(np.column_stack(own), axis=0, return_inverse=True)
    combo = np.where(mover, -1, combo.reshape(-1))
    # Number the users: those who keep their segments first, grouped by them; movers last.
    order = np.lexsort((np.arange(n_users), np.where(mover, len(combos), combo)))
    rank = np.empty(n_users, np.int64)
    rank[order] = np.arange(n_users)
    users = rank[users]
    # Rows ordered by batch of users only (a radix sort of small numbers): the arrays take a batch at a time.
    batches = users // USER_BATCH
    small = batches.astype(np.int16) if n_users < USER_BATCH * 2**15 else batches  # int16: numpy's radix sort
    by_user = np.argsort(small, kind="stable")
    router, router_names = _codes(rows["router"])
    task, task_names = _codes(rows["task_type"])
    return _Span(
        first,
        (last - first).days + 1,
        users[by_user],
        rows["day"].to_numpy(np.int64)[by_user],
        router[by_user],
        router_names,
        task[by_user],
        task_names,
        [codes[by_user] for codes in segments],
        list(segment_names),
        counts[:, by_user],
        combo[order],
        combos,
    )


@dataclass
class _Totals:
    """One (window, dimension)'s sums: per segment the moments, per (segment, task type) the counts."""

    moments: np.ndarray  # segments x MOMENTS
    tasks: np.ndarray  # segments x task types x COUNTS


def _modal(counts: np.ndarray) -> np.ndarray:
    """Per row of a users x segments matrix of request counts, the segment with the most (ties to the greatest
    name: codes are in name order), -1 where the user has none."""
    last_best = counts.shape[1] - 1 - np.argmax(counts[:, ::-1], axis=1)
    return np.where(counts.sum(axis=1) > 0, last_best, -1)


def _per_user(counts: np.ndarray, out: np.ndarray) -> np.ndarray:
    """COUNTS x windows x users sums -> ``out``, MOMENTS x windows x users: the counts, the user indicators, the
    products (moment-major, so that every step writes whole contiguous rows)."""
    at = {name: number for number, name in enumerate(COUNTS)}
    out[: len(COUNTS)] = counts
    np.greater(counts[at["requests"]], 0, out=out[len(COUNTS)])
    for offset, trials in enumerate(USERS_OF, len(COUNTS) + 1):
        np.greater(counts[at[trials]], 0, out=out[offset])
    for offset, (a, b) in enumerate(PRODUCTS, len(COUNTS) + 1 + len(USERS_OF)):
        np.multiply(counts[at[a]], counts[at[b]], out=out[offset])
    return out


def _accumulate(by_day: np.ndarray) -> np.ndarray:
    """Cumulative sums over the first axis (days), in place, a whole row at a time: numpy's cumsum along the first
    axis of a C-ordered array walks it column by column, several times slower."""
    for number in range(1, len(by_day)):
        by_day[number] += by_day[number - 1]
    return by_day


@dataclass(frozen=True)
class _Placement:
    """Where one dimension puts the users of one router filter: a user with one segment in the span is always
    there; a switcher goes to each window's modal segment."""

    segment: np.ndarray  # each row's segment code
    size: int  # segments of the dimension
    switcher: np.ndarray  # per user: has more than one segment in the span


def _windows_of_filter(span: _Span, rows: np.ndarray, windows: list[TrailingWindow]) -> list[list[_Totals]]:
    """For the rows of one router filter (a boolean mask over the span's rows), each window's totals per dimension."""
    n_tasks = len(span.task_names)
    starts = np.array([(w.first - span.first).days for w in windows])
    ends = np.array([(w.as_of - span.first).days + 1 for w in windows])
    users, day, task, counts = span.users[rows], span.day[rows], span.task[rows], span.counts[:, rows]
    n_users = span.n_users
    placements = []
    for codes, names in zip(span.segments, span.segment_names, strict=True):
        segment, k = codes[rows], len(names)
        present = np.bincount(users * k + segment, minlength=n_users * k).reshape(n_users, k) > 0
        placements.append(_Placement(segment, k, present.sum(axis=1) > 1))
    totals = [
        [_Totals(np.zeros((p.size, len(MOMENTS))), np.zeros((p.size, n_tasks, len(COUNTS)))) for p in placements]
        for _ in windows
    ]
    for dim, placement in enumerate(placements):
        k, segment = placement.size, placement.segment
        # Stable users' task counts are per (segment, task, day) sums: cumulative over days, then differenced.
        stable: slice | np.ndarray = slice(None)
        if placement.switcher.any():
            stable = np.flatnonzero(~placement.switcher[users])
        key = (segment[stable] * n_tasks + task[stable]) * span.days + day[stable]
        by_day = np.stack(
            [np.bincount(key, counts[c, stable], k * n_tasks * span.days) for c in range(len(COUNTS))], axis=-1
        ).reshape(k, n_tasks, span.days, len(COUNTS))
        cumulative = np.concatenate([np.zeros((k, n_tasks, 1, len(COUNTS))), np.cumsum(by_day, axis=2)], axis=2)
        for number, total in enumerate(totals):
            total[dim].tasks += cumulative[:, :, ends[number]] - cumulative[:, :, starts[number]]
        # Switchers: their modal segment per window, their task counts placed there.
        moving = np.flatnonzero(placement.switcher)
        if len(moving):
            mine = np.flatnonzero(placement.switcher[users])
            for number, total in enumerate(totals):
                inside = mine[(day[mine] >= starts[number]) & (day[mine] < ends[number])]
                who = np.searchsorted(moving, users[inside])
                modal = _modal(np.bincount(who * k + segment[inside], minlength=len(moving) * k).reshape(-1, k))
                place = modal[who] * n_tasks + task[inside]
                for c in range(len(COUNTS)):
                    total[dim].tasks[..., c] += np.bincount(place, counts[c, inside], k * n_tasks).reshape(k, n_tasks)
    _user_moments(span, users, day, counts, placements, starts, ends, totals)
    return totals


def _user_moments(
    span: _Span,
    users: np.ndarray,
    day: np.ndarray,
    counts: np.ndarray,
    placements: list[_Placement],
    starts: np.ndarray,
    ends: np.ndarray,
    totals: list[list[_Totals]],
) -> None:
    """Add each window's per-segment moments of every dimension, a tile of users by windows at a time: the users'
    window counts from cumulative sums over days, their indicators and products; the users who keep their segments
    come grouped by them, so their sums are sums over contiguous runs, then placed in each dimension's segment; a
    mover's in each window's modal segment. ``users`` come a batch at a time."""
    edges = np.cumsum([0, *(p.size for p in placements)])
    placing = np.zeros((len(span.combos), int(edges[-1])))  # each group of segments -> its segment per dimension
    for dim in range(len(placements)):
        placing[np.arange(len(span.combos)), edges[dim] + span.combos[:, dim]] = 1.0
    n_users, movers_from = span.n_users, int(np.searchsorted(span.combo < 0, True))
    batches = users // USER_BATCH
    for low in range(0, n_users, USER_BATCH):
        high = min(low + USER_BATCH, n_users)
        size = high - low
        first_row, end_row = np.searchsorted(batches, [low // USER_BATCH, low // USER_BATCH + 1])
        mine = slice(first_row, end_row)
        key = day[mine] * size + (users[mine] - low)
        cumulative = np.zeros((len(COUNTS), span.days + 1, size))  # COUNTS x days x users, 0 before the span
        for c in range(len(COUNTS)):
            cumulative[c, 1:] = np.bincount(key, counts[c, mine], span.days * size).reshape(span.days, size)
            _accumulate(cumulative[c])
        stable = max(0, min(high, movers_from) - low)  # the batch's users who keep their segments come first
        groups = span.combo[low : low + stable]
        runs = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]]) if stable else np.zeros(0, np.int64)
        moving = np.arange(stable, size)
        moving_rows = first_row + np.flatnonzero(users[mine] >= low + stable)
        values = np.empty((len(MOMENTS), WINDOW_BATCH, size))
        for first in range(0, len(starts), WINDOW_BATCH):
            chosen = range(len(starts))[first : first + WINDOW_BATCH]
            window_counts = cumulative[:, ends[chosen]] - cumulative[:, starts[chosen]]
            tile = _per_user(window_counts, values[:, : len(chosen)])
            placed = np.zeros((len(MOMENTS), len(chosen), int(edges[-1])))
            if stable:
                run_sums = np.add.reduceat(tile[:, :, :stable], runs, axis=2)
                placed = run_sums @ placing[groups[runs]]
            for dim, placement in enumerate(placements):
                for offset, number in enumerate(chosen):
                    totals[number][dim].moments += placed[:, offset, edges[dim] : edges[dim + 1]].T
                    if len(moving):
                        inside = moving_rows[(day[moving_rows] >= starts[number]) & (day[moving_rows] < ends[number])]
                        totals[number][dim].moments += _moving_moments(
                            tile[:, offset][:, moving].T,
                            low + moving,
                            users[inside],
                            placement.segment[inside],
                            placement.size,
                        )


def _moving_moments(values: np.ndarray, who: np.ndarray, users: np.ndarray, segment: np.ndarray, k: int) -> np.ndarray:
    """The moments of users whose segment changes within the span, each in the window's modal segment: ``values``
    are their per-user moments in the window (users ``who``, sorted), ``users`` and ``segment`` their requests in
    the window."""
    place = np.searchsorted(who, users)
    modal = _modal(np.bincount(place * k + segment, minlength=len(who) * k).reshape(-1, k))
    active = modal >= 0
    out = np.zeros((k, values.shape[1]))
    np.add.at(out, modal[active], values[active])
    return out


def _sums_of(totals: _Totals, segments: list[str], tasks: list[str], dimension: str) -> DimensionSums | None:
    """One window's ``DimensionSums`` (those ``DimensionSums.of`` gives from the live query's rows) from its totals,
    exact integers; None when it has no request."""
    if max(totals.moments.max(initial=0), totals.tasks.max(initial=0)) >= EXACT_BELOW:
        raise ArithmeticError("a sum reached 2**53: it would not be exact in float64")
    present = np.flatnonzero(totals.moments[:, MOMENTS.index("users")] > 0)
    if not len(present):
        return None
    names = np.array(segments, dtype=object)[present]
    moments = totals.moments[present].astype(np.uint64)
    grid = totals.tasks[present]  # segments x task types x COUNTS
    pairs = np.nonzero(grid[:, :, 0] > 0)  # the (segment, task type) cells with requests, in name order
    index = pd.MultiIndex.from_arrays(
        [names[pairs[0]], np.array(tasks, dtype=object)[pairs[1]]], names=["segment", "task_type"]
    )
    by_task = pd.DataFrame(grid[pairs].astype(np.uint64), columns=list(COUNTS), index=index)
    if dimension == TASK_TYPE:  # a task type's only stratum is itself (metrics.gaps._table._unadjustable)
        by_task = by_task.reset_index().assign(task_type=lambda f: f["segment"]).groupby(["segment", "task_type"]).sum()
    frame = pd.DataFrame(moments, columns=list(MOMENTS), index=pd.Index(names, dtype=object, name="segment"))
    if dimension == TASK_TYPE:
        return DimensionSums.of_parts(frame, by_task)
    used = np.flatnonzero((grid[:, :, 0] > 0).any(axis=0))
    return DimensionSums(
        frame,
        by_task,
        {name: grid[:, used, number].astype(float) for number, name in enumerate(COUNTS)},
        {str(name): row for row, name in enumerate(names)},
        {
            str(name): dict(zip(MOMENTS, values, strict=True))
            for name, values in zip(names, moments.tolist(), strict=True)
        },
    )


def trailing_sums(
    store: Store, dimensions: Sequence[str], windows: Sequence[TrailingWindow], progress: Progress | None = None
) -> Iterator[tuple[TrailingWindow, str, DimensionSums]]:
    """Each window's sums per dimension (windows with no request left out), from one scan of the span they cover.

    Raises ``ArithmeticError`` if a sum reaches 2**53 (it would not be exact), ``DimensionError`` for a dimension
    that is not allow-listed.
    """
    if not windows or not dimensions:
        return
    span = _scan(store, dimensions, min(w.first for w in windows), max(w.as_of for w in windows))
    routers = {name: code for code, name in enumerate(span.router_names)}
    done = 0
    for router in sorted({w.router for w in windows}):
        chosen = [w for w in windows if w.router == router]
        if router != EVERY_ROUTER and router not in routers:
            done += len(chosen)
            continue
        rows = np.ones(len(span.users), bool) if router == EVERY_ROUTER else span.router == routers[router]
        for window, per_dimension in zip(chosen, _windows_of_filter(span, rows, chosen), strict=True):
            for dimension, names, totals in zip(dimensions, span.segment_names, per_dimension, strict=True):
                sums = _sums_of(totals, names, span.task_names, dimension)
                if sums is not None:
                    yield window, dimension, sums
            done += 1
            if progress:
                progress("windows", done, len(windows))


def trailing_gap_tables(
    store: Store,
    dimensions: Sequence[str],
    windows: Sequence[TrailingWindow],
    settings: GapSettings | None = None,
    progress: Progress | None = None,
) -> Iterator[tuple[TrailingWindow, str, pd.DataFrame]]:
    """The gap table of each window and dimension on the default metrics, as ``metrics.gaps.gap_table`` gives it
    for that window, cut and one dimension (the same rows, the same numbers)."""
    settings = settings or GapSettings()
    for window, dimension, sums in trailing_sums(store, dimensions, windows, progress):
        yield window, dimension, gap_table_from_sums({dimension: sums}, settings, list(DEFAULT_METRICS))


def stored_metrics() -> str:
    """The metrics of every stored table, as gap_windows keeps them: the default metrics, in their order."""
    return ",".join(DEFAULT_METRICS)


def stored_gap_table(
    store: Store,
    dimensions: Sequence[str],
    *,
    metrics: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    where: dict[str, str] | None = None,
) -> pd.DataFrame | None:
    """The gap table of a view read from the stored trailing windows (``alerts.windows``): the table
    ``metrics.gaps.gap_table`` gives for it, row for row, when the view is a stored window (one dimension, the default
    metrics in their order, whole UTC days ending with a closed day over 7, 14 or 28 days, no cut but a router
    version) and no request of it has changed since it was stored. None otherwise: compute it live."""
    if len(dimensions) != 1 or tuple(metrics or DEFAULT_METRICS) != DEFAULT_METRICS or since is None or until is None:
        return None
    start, end = (
        pd.Timestamp(t).tz_localize(UTC) if t.tzinfo is None else pd.Timestamp(t).tz_convert(UTC)
        for t in (since, until)
    )
    if start != start.normalize() or end != end.normalize():
        return None
    window = TrailingWindow.of_view(start.date(), (end - timedelta(days=1)).date(), where or {})
    if window is None:
        return None
    params = {
        "as_of": window.as_of,
        "days": window.days,
        "router": window.router,
        "dimension": dimensions[0],
        "metrics": stored_metrics(),
        "since": window.since,
        "until": window.until,
    }
    rows = store.query_df(query("gap_windows_read").text, params)
    if rows.empty:
        return None
    table = rows[rows["metric"] != ""].reset_index(drop=True).reindex(columns=list(GAP_ROW_FIELDS))
    for column in ("severity", "adjusted_by"):  # None where unset, as in a live table
        table[column] = table[column].astype(object).where(table[column].notna(), None)
    return table

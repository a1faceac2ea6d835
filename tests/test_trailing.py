"""Stored trailing windows: the tables of many windows from one scan equal the live gap tables cell by cell, the
judge job stores them, the dashboard's views read them while they are current and never after their requests
change."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alerts.judge import decide
from alerts.windows import AS_OF_DAYS, store_windows
from ingest.load import ingest
from ingest.synthetic import generate, write_jsonl
from metrics.gaps import (
    WINDOW_DAYS,
    GapSettings,
    TrailingWindow,
    gap_table,
    gap_table_from_cells,
    load_cells,
    stored_gap_table,
    trailing_gap_tables,
)
from metrics.gaps._trailing import _sums_of, _Totals
from routewatch.store import Store
from tests.conftest import good_record, write_lines

END = datetime(2026, 11, 1, tzinfo=UTC)  # the data's last day is 2026-10-31
LAST = date(2026, 10, 31)
DIMENSIONS = ["language", "account_id", "segments.native_speaker", "task_type", "channel"]


@pytest.fixture(scope="module")
def moving_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """12,000 synthetic requests over 35 days (two router versions) where the first 80 users change language,
    account and the ``native_speaker`` key from one request to the next (so a user's modal segment differs from
    window to window, with ties), and a tenth of the requests have no ``native_speaker`` at all."""
    frame = generate(12_000, seed=21, end=END, days=35)
    moving = frame["user_id"].isin([f"u-{k}" for k in range(80)])
    turn = np.arange(int(moving.sum())) % 3
    frame.loc[moving, "language"] = np.array(["de", "en", "hi"])[turn]
    frame.loc[moving, "account_id"] = np.where(turn == 0, "acct-001", "acct-002")
    frame["segments"] = [{"native_speaker": "yes"} if n % 10 else None for n in range(len(frame))]
    frame.loc[moving, "segments"] = [{"native_speaker": "no" if t else "yes"} for t in turn]
    folder = tmp_path_factory.mktemp("moving")
    store = Store(f"chdb://{folder / 'store'}", lock_timeout_s=60)
    ingest(store, [str(write_jsonl(frame, folder / "traffic.jsonl"))])
    return store


def _windows(as_of: list[date], routers: list[str]) -> list[TrailingWindow]:
    return [TrailingWindow(day, days, router) for day in as_of for days in WINDOW_DAYS for router in routers]


@pytest.mark.slow
def test_every_trailing_table_is_the_live_table_cell_by_cell(moving_store: Store) -> None:
    routers = ["", "bert-router@v6", "bert-router@v7", "never-served@v0"]
    windows = _windows([LAST, LAST - timedelta(days=6), LAST - timedelta(days=20)], routers)
    got = {(w, d): table for w, d, table in trailing_gap_tables(moving_store, DIMENSIONS, windows)}
    assert not [key for key in got if key[0].router == "never-served@v0"]
    compared = 0
    for window in windows:
        for dimension in DIMENSIONS:
            live = gap_table(moving_store, [dimension], since=window.since, until=window.until, where=window.where)
            if live.empty:
                assert (window, dimension) not in got
                continue
            pd.testing.assert_frame_equal(got[(window, dimension)], live, check_exact=True)
            compared += 1
    assert compared >= 100
    # The fixture does what it says: users in the modal segment of each window, not one for the whole span.
    movers = gap_table(moving_store, ["language"], since=windows[0].since, until=windows[0].until)
    assert {"de", "hi"} <= set(movers["segment"])


def test_task_types_compared_from_the_stores_moments_equal_those_from_the_cells(moving_store: Store) -> None:
    window = TrailingWindow(LAST, 14)
    from_moments = gap_table(moving_store, ["task_type"], since=window.since, until=window.until)
    cells = load_cells(moving_store, "task_type", window.since, window.until, grain="cell", more=False)
    from_cells = gap_table_from_cells({"task_type": cells}, GapSettings())
    tested = from_moments[from_moments["p_value"].notna()]
    assert len(tested) and tested["note"].str.contains("not adjusted for task mix").all()  # it cannot be
    pd.testing.assert_frame_equal(from_moments, from_cells, rtol=1e-12)


def test_a_sum_that_float64_cannot_hold_exactly_is_refused() -> None:
    totals = _Totals(np.full((2, 22), 2.0**53), np.zeros((2, 1, 7)))
    with pytest.raises(ArithmeticError, match="2\\*\\*53"):
        _sums_of(totals, ["a", "b"], ["t"], "language")


@pytest.mark.slow
def test_the_judge_stores_the_windows_and_the_views_read_them_while_current(
    moving_store: Store, tmp_path: Path
) -> None:
    now = END + timedelta(hours=6)
    dimensions = ["language", "channel"]
    run = decide(moving_store, dimensions, now=now)
    assert run.trailing is not None and run.trailing.current == 0
    # As of each of the last 28 closed days, three lengths, every router and each version that served.
    assert AS_OF_DAYS * len(WINDOW_DAYS) <= run.trailing.computed <= AS_OF_DAYS * len(WINDOW_DAYS) * 3
    assert run.trailing.tables == run.trailing.computed * len(dimensions)
    views = [TrailingWindow(LAST, 14), TrailingWindow(LAST - timedelta(days=3), 7, "bert-router@v7")]
    for window in views:
        stored = stored_gap_table(
            moving_store, ["language"], since=window.since, until=window.until, where=window.where
        )
        live = gap_table(moving_store, ["language"], since=window.since, until=window.until, where=window.where)
        assert stored is not None and len(stored) == len(live) > 0
        pd.testing.assert_frame_equal(stored, live, check_exact=True, check_dtype=False)

    again = store_windows(moving_store, dimensions, now=now)
    assert again.computed == 0 and again.current == run.trailing.computed

    # A late request on 2026-10-29: the windows that hold that day are stale and read nothing, the others still read.
    late = good_record("late-1", ts="2026-10-29T10:00:00Z", user_id="u-late", language="de", router="bert-router@v7")
    ingest(moving_store, [str(write_lines(tmp_path / "late.jsonl", [json.dumps(late)]))])
    holding, before = TrailingWindow(LAST, 7), TrailingWindow(date(2026, 10, 28), 7)
    assert stored_gap_table(moving_store, ["language"], since=holding.since, until=holding.until) is None
    assert stored_gap_table(moving_store, ["language"], since=before.since, until=before.until) is not None
    holding_the_day = moving_store.query_rows(
        "SELECT count() FROM (SELECT DISTINCT as_of, days, router FROM gap_windows WHERE as_of >= '2026-10-29')"
    )[0][0]
    refreshed = store_windows(moving_store, dimensions, now=now)
    assert refreshed.computed == holding_the_day >= 3 * len(WINDOW_DAYS) * 2  # only those, all of them
    stored = stored_gap_table(moving_store, ["language"], since=holding.since, until=holding.until)
    live = gap_table(moving_store, ["language"], since=holding.since, until=holding.until)
    assert stored is not None
    pd.testing.assert_frame_equal(stored, live, check_exact=True, check_dtype=False)


def test_views_that_are_no_stored_window_read_nothing(moving_store: Store) -> None:
    store_windows(moving_store, ["language"], now=END)
    window = TrailingWindow(LAST, 14)
    since, until = window.since, window.until
    assert stored_gap_table(moving_store, ["language"], since=since, until=until) is not None
    for view in (
        {"dimensions": ["language"], "since": since + timedelta(days=4)},  # ten days
        {"dimensions": ["language", "channel"]},  # two dimensions: one family of comparisons
        {"dimensions": ["language"], "metrics": ["escalation_rate"]},
        {"dimensions": ["language"], "where": {"tier": "free"}},
        {"dimensions": ["language"], "until": until - timedelta(hours=1)},  # not a whole day
        {"dimensions": ["region"]},  # a dimension the job does not judge
        {"dimensions": ["language"], "where": {"router": ""}},  # requests with no router: a cut, not every router
    ):
        arguments = {"since": since, "until": until, **view}
        dimensions = arguments.pop("dimensions")
        assert stored_gap_table(moving_store, dimensions, **arguments) is None, view

"""The daily judge job: judge each closed UTC day once, carry a CUSUM early warning, store the verdicts.

Hourly refreshes must not become hourly tests. The dashboard shows estimates; only this
job decides, once per closed UTC day, and stores the verdict in ``gap_decisions`` (``routewatch decide``, and the
first step of ``routewatch alerts run``). Running it again skips decided days, so it changes nothing. A two-sided
CUSUM on each day's task-adjusted gap (standardized by its standard error, with the indifference zone delta/2)
raises a ``warning`` early, as does a day whose own gap is beyond the margin (only the weekly audit confirms); on
the Sunday that closes an ISO week the verdict is the weekly confirmatory audit, pooling Monday to Sunday
(disjoint weeks), since a single day is often too small to confirm a gap of the margin. A small segment whose
days all fail the gates steps its CUSUM once a week instead, on the pooled week. The verdicts are read back
through ``metrics.decisions``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd

from alerts.windows import WindowRun, store_windows
from metrics.decisions import DECISION_COLUMNS, WEEKLY_AUDIT
from metrics.gaps import GapSettings, Progress, Status, gap_table, join_note
from routewatch.sqlfiles import query
from routewatch.store import Store

CUSUM_K = 0.5
ARL0_REFERENCE = 168.0  # in-control run length of a two-sided CUSUM with k = 0.5 and h = 4 (Montgomery)
WEEKLY_STEP = "CUSUM stepped on the week"  # the note of a small segment's weekly CUSUM step


SMALLEST_THRESHOLD = 4.0  # h at ARL0 = 168, the floor of ``threshold``


def threshold(contrasts: int, days_between_false_alarms: float = 30.0) -> float:
    """CUSUM threshold h for at most one false alarm across ``contrasts`` per that many days (h = 4 + ln(ARL0/168))."""
    arl0 = max(contrasts, 1) * days_between_false_alarms
    return SMALLEST_THRESHOLD + math.log(max(arl0, ARL0_REFERENCE) / ARL0_REFERENCE)


def cusum_step(up: float, down: float, gap: float, se: float, delta: float) -> tuple[float, float]:
    """One window of the two-sided CUSUM on a gap and its standard error, with tolerance delta/2."""
    tolerance = delta / 2
    up = max(0.0, up + (gap - tolerance) / se - CUSUM_K)
    down = max(0.0, down + (-gap - tolerance) / se - CUSUM_K)
    return up, down


def run_length(h: float, streams: int = 2000, horizon: int = 4000, seed: int = 0) -> float:
    """Mean windows to a false alarm of the two-sided CUSUM on N(0, 1) gaps (for checking ``threshold``)."""
    rng = np.random.default_rng(seed)
    up = np.zeros(streams)
    down = np.zeros(streams)
    alarm = np.full(streams, horizon, dtype=float)
    for t in range(horizon):
        z = rng.standard_normal(streams)
        up = np.maximum(0, up + z - CUSUM_K)
        down = np.maximum(0, down - z - CUSUM_K)
        fired = ((up > h) | (down > h)) & (alarm == horizon)
        alarm[fired] = t + 1
    return float(alarm.mean())


@dataclass(frozen=True)
class DecisionRun:
    """What one run of the job decided."""

    windows: list[date]
    rows: int
    warnings: int
    confirmed: int
    trailing: WindowRun | None = None  # the stored trailing windows brought up to date after the days


def _previous_state(store: Store, before: date) -> dict[tuple[str, str, str], tuple[float, float]]:
    frame = store.query_df(query("decisions_previous").text, {"before": before})
    return {
        (r.dimension, r.segment, r.metric): (float(r.cusum_up), float(r.cusum_down))
        for r in frame.itertuples(index=False)
    }


def judge_window(
    table: pd.DataFrame,
    state: dict[tuple[str, str, str], tuple[float, float]],
    settings: GapSettings,
    h: float,
    increments: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Add the CUSUM to a gap table; a contrast that alarms and is not confirmed becomes a warning.

    The CUSUM steps on ``increments`` (the day's own gaps, so that successive steps are independent) and
    defaults to ``table`` itself; the verdict and the numbers shown are ``table``'s.
    """
    steps = {
        (r.dimension, r.segment, r.metric): (r.adjusted_gap, getattr(r, "adjusted_se", math.nan))
        for r in (table if increments is None else increments).itertuples(index=False)
    }
    ups, downs, alarms, statuses = [], [], [], []
    for row in table.itertuples(index=False):
        key = (row.dimension, row.segment, row.metric)
        up, down = state.get(key, (0.0, 0.0))
        status = row.status
        alarm = False
        gap, se = steps.get(key, (math.nan, math.nan))
        if isinstance(se, float) and se > 0 and not math.isnan(gap):
            up, down = cusum_step(up, down, gap, se, settings.delta[row.metric])
            alarm = up > h or down > h
            if alarm:
                if status != Status.CONFIRMED:
                    status = Status.WARNING.value
                up, down = 0.0, 0.0  # reset after an alarm
        state[key] = (up, down)
        ups.append(up)
        downs.append(down)
        alarms.append(alarm)
        statuses.append(status)
    return table.assign(cusum_up=ups, cusum_down=downs, cusum_alarm=alarms, cusum_h=h, status=statuses)


def decide(
    store: Store,
    dimensions: list[str],
    settings: GapSettings | None = None,
    *,
    now: datetime | None = None,
    days_between_false_alarms: float = 30.0,
    redo_from: date | None = None,
    progress: Progress | None = None,
) -> DecisionRun:
    """Judge every closed day not judged yet, in order, and store the decisions; with ``redo_from``, first forget
    the decisions from that day on, so that they are judged again (a crash after forgetting loses nothing: the
    next run judges those days as not judged yet; the stored trailing windows from that day on are forgotten too).
    Then bring the stored trailing windows of ``dimensions`` up to
    date (``alerts.windows``; ``progress`` hears of them)."""
    settings = settings or GapSettings()
    run = _decide_days(store, dimensions, settings, now, days_between_false_alarms, redo_from)
    trailing = store_windows(store, dimensions, now=now, settings=settings, progress=progress)
    return replace(run, trailing=trailing)


def _decide_days(
    store: Store,
    dimensions: list[str],
    settings: GapSettings,
    now: datetime | None,
    days_between_false_alarms: float,
    redo_from: date | None,
) -> DecisionRun:
    if redo_from is not None:
        store.command(query("decisions_forget").text, {"since": redo_from})
        store.command(query("gap_windows_forget").text, {"since": redo_from})
    today = datetime.combine((now or datetime.now(UTC)).astimezone(UTC).date(), time(), tzinfo=UTC)
    windows = store.query_df(query("decisions_windows").text, {"until": today})
    pending = [d for d, decided in zip(windows["day"], windows["decided"], strict=True) if not decided]
    if not pending:
        return DecisionRun([], 0, 0, 0)
    first = pd.Timestamp(pending[0]).date()
    state = _previous_state(store, first)
    routers = store.query_df(query("decisions_routers").text, {"until": today})
    served = {pd.Timestamp(d).date(): tuple(r) for d, r in zip(routers["day"], routers["routers"], strict=True)}
    decided, rows, warned, confirmed = [], 0, 0, 0
    for day in pending:
        start = datetime.combine(pd.Timestamp(day).date(), time(), tzinfo=UTC)
        end = start + timedelta(days=1)
        daily = gap_table(store, dimensions, settings, since=start, until=end)
        if daily.empty:
            continue
        table, increments = daily, daily
        if start.isoweekday() == 7:  # the day closes an ISO week: the confirmatory audit pools Monday to Sunday
            monday = end - timedelta(days=7)
            table = gap_table(store, dimensions, settings, since=monday, until=end)
            table = table.assign(note=_noted(table["note"], WEEKLY_AUDIT))
            table, increments = _weekly_steps(store, table, daily, monday)
        previous = served.get(start.date() - timedelta(days=1))
        if previous is not None and previous != served.get(start.date()):
            state.clear()  # a router deploy is a known change point: the CUSUM starts again
            table = table.assign(note=_noted(table["note"], "CUSUM restarted: the router changed"))
        tested = int(daily["p_value"].notna().sum()) if "p_value" in daily else 0
        judged = judge_window(table, state, settings, threshold(tested, days_between_false_alarms), increments)
        if start.isoweekday() != 7:
            judged = _early_only(judged)
        _store_window(store, start.date(), judged)
        decided.append(start.date())
        rows += len(judged)
        warned += int((judged["status"] == Status.WARNING.value).sum())
        confirmed += int((judged["status"] == Status.CONFIRMED.value).sum())
    return DecisionRun(decided, rows, warned, confirmed)


def _noted(notes: pd.Series, clause: str) -> pd.Series:
    """Each note with one more clause, separated as ``metrics.gaps.join_note`` separates them."""
    return notes.fillna("").astype(str).map(lambda note: join_note(note, clause))


def _early_only(judged: pd.DataFrame) -> pd.DataFrame:
    """A day's verdicts: only the weekly audit confirms (testing every day would multiply false alarms, R7), so
    a day whose own gap is confirmed beyond the margin is an early warning for the audit to confirm or close."""
    early = judged["status"] == Status.CONFIRMED.value
    note = judged["note"].where(~early, _noted(judged["note"], "the day's gap is beyond the margin: an early warning"))
    return judged.assign(status=judged["status"].where(~early, Status.WARNING.value), note=note)


def _stepping(frame: pd.DataFrame) -> set[tuple[str, str, str]]:
    """The contrasts of a gap table that give the CUSUM a step (a task-adjusted gap with a standard error)."""
    if frame.empty or "adjusted_se" not in frame:
        return set()
    steps = frame[np.isfinite(frame["adjusted_gap"].astype(float)) & (frame["adjusted_se"].astype(float) > 0)]
    return set(zip(steps["dimension"], steps["segment"], steps["metric"], strict=True))


def _weekly_steps(
    store: Store, week: pd.DataFrame, sunday: pd.DataFrame, monday: datetime
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The week's table and the CUSUM increments of its Sunday: the day's own gaps, plus the pooled week's for the
    contrasts that stepped on none of its days (small segments; STATISTICS.md R7)."""
    stepped = store.query_df(
        query("decisions_stepped").text, {"since": monday.date(), "until": monday.date() + timedelta(days=6)}
    )
    done = _stepping(sunday) | set(zip(stepped["dimension"], stepped["segment"], stepped["metric"], strict=True))
    weekly = _stepping(week) - done
    keys = pd.Series(list(zip(week["dimension"], week["segment"], week["metric"], strict=True)), index=week.index)
    pooled = keys.isin(weekly)
    week = week.assign(note=week["note"].where(~pooled, _noted(week["note"], WEEKLY_STEP)))
    return week, pd.concat([sunday, week[pooled]], ignore_index=True)


def _store_window(store: Store, window: date, judged: pd.DataFrame) -> None:
    frame = judged.assign(window_start=window, decided_at=pd.Timestamp.now(tz="UTC"))
    frame = frame.reindex(columns=list(DECISION_COLUMNS))
    frame["note"] = frame["note"].fillna("").astype(str)
    for column in ("requests", "users"):
        frame[column] = frame[column].fillna(0).astype("uint64")
    numbers = (
        "value",
        "reference_value",
        "gap",
        "ci_low",
        "ci_high",
        "adjusted_gap",
        "adjusted_se",
        "p_value",
        "p_adjusted",
        "cusum_h",
    )
    for column in numbers:
        frame[column] = frame[column].astype("Float64")
    frame["cusum_alarm"] = frame["cusum_alarm"].astype(bool)
    store.insert_df("gap_decisions", frame)

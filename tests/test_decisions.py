"""Decisions over time: the CUSUM's false-alarm rate, idempotent daily windows, second-class users."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from alerts.judge import cusum_step, decide, run_length, threshold
from ingest.load import ingest
from ingest.synthetic import generate, write_jsonl
from metrics.decisions import second_class_users, touched_users
from metrics.gaps import GapSettings, gap_table
from routewatch.store import Store
from tests.conftest import run_cli


@pytest.mark.slow
@pytest.mark.parametrize(("h", "expected"), [(4.0, 168), (5.0, 455)])
def test_cusum_in_control_run_length_matches_the_table(h: float, expected: float) -> None:
    assert run_length(h, streams=3000, horizon=3000, seed=1) == pytest.approx(expected, rel=0.15)


def test_threshold_grows_with_the_family_and_the_quiet_period() -> None:
    assert threshold(1, 30) == 4.0  # never below the reference table's h
    assert threshold(50, 30) == pytest.approx(6.2, abs=0.05)  # m = 50 contrasts, one false alarm a month
    assert threshold(100, 30) > threshold(50, 30)


def test_cusum_ignores_gaps_inside_the_indifference_zone() -> None:
    up = down = 0.0
    for _ in range(200):  # a real but negligible gap (a quarter of the margin), measured very precisely
        up, down = cusum_step(up, down, gap=-0.005, se=0.001, delta=0.02)
    assert up == down == 0.0
    up = down = 0.0
    for _ in range(3):
        up, down = cusum_step(up, down, gap=-0.05, se=0.01, delta=0.02)
    assert down > 10  # a gap past the margin builds up fast


@pytest.fixture(scope="module")
def decided_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    folder = tmp_path_factory.mktemp("decisions")
    store = Store(f"chdb://{folder / 'store'}")
    traffic = generate(150_000, seed=5, end=datetime(2026, 11, 1, tzinfo=UTC), days=10)
    ingest(store, [str(write_jsonl(traffic, folder / "traffic.jsonl"))])
    return store


@pytest.mark.slow
def test_each_closed_day_is_decided_once(decided_store: Store) -> None:
    now = datetime(2026, 11, 5, tzinfo=UTC)
    first = decide(decided_store, ["language"], now=now)
    assert len(first.windows) == 10 and first.rows == 10 * 4 * 4  # days x segments but en x binary metrics
    before = decided_store.query_rows("SELECT count(), round(sum(cusum_up + cusum_down), 6) FROM gap_decisions FINAL")
    again = decide(decided_store, ["language"], now=now)
    assert again.windows == [] and again.rows == 0
    assert (
        decided_store.query_rows("SELECT count(), round(sum(cusum_up + cusum_down), 6) FROM gap_decisions FINAL")
        == before
    )
    thresholds = decided_store.query_df(
        "SELECT window_start, toDayOfWeek(window_start) = 7 AS sunday, min(cusum_h) AS low, max(cusum_h) AS high, "
        "countIf(p_value IS NOT NULL) AS tested FROM gap_decisions FINAL GROUP BY window_start"
    )
    assert (thresholds["low"] == thresholds["high"]).all()  # one h a window, stored with every verdict
    days = thresholds[thresholds["sunday"] == 0]
    assert list(days["low"]) == pytest.approx([threshold(int(n)) for n in days["tested"]])
    statuses = decided_store.query_df(
        "SELECT segment, metric, status FROM gap_decisions FINAL WHERE metric = 'escalation_rate'"
    )
    hi = statuses[statuses["segment"] == "hi"]["status"]
    assert (hi.isin(["warning", "confirmed"])).mean() > 0.5  # the planted gap trips the early warning
    es = statuses[statuses["segment"] == "es"]["status"]
    assert (es == "warning").mean() < 0.2  # no planted gap: alarms stay rare
    restarted = decided_store.query_df(
        "SELECT DISTINCT window_start FROM gap_decisions FINAL WHERE note LIKE '%router changed%'"
    )
    assert len(restarted) == 1  # bert-router@v7 takes over halfway: one restart, on the day it does


@pytest.mark.slow
def test_small_segments_step_their_cusum_once_a_week(tmp_path: Path) -> None:
    # About 1,500 requests a day: hi and es (10 and 12% of traffic) fail the daily gates but pass weekly ones.
    store = Store(f"chdb://{tmp_path / 'store'}")
    traffic = generate(31_500, seed=8, end=datetime(2026, 11, 2, tzinfo=UTC), days=21)  # three ISO weeks
    ingest(store, [str(write_jsonl(traffic, tmp_path / "traffic.jsonl"))])
    decide(store, ["language"], now=datetime(2026, 11, 3, tzinfo=UTC))
    rows = store.query_df(
        "SELECT window_start, segment, status, cusum_up + cusum_down AS s, cusum_alarm, note FROM gap_decisions FINAL"
        " WHERE metric = 'escalation_rate' AND segment IN ('hi', 'es') ORDER BY window_start"
    )
    rows["sunday"] = pd.to_datetime(rows["window_start"]).dt.dayofweek == 6
    hi, es = rows[rows["segment"] == "hi"], rows[rows["segment"] == "es"]
    hi_days = hi[~hi["sunday"]]
    assert (hi_days["status"] == "insufficient_data").all() and (hi_days["s"] == 0).all()  # no daily step
    hi_weeks = hi[hi["sunday"]]
    assert len(hi_weeks) == 3 and hi_weeks["note"].str.contains("CUSUM stepped on the week").all()
    assert hi_weeks["cusum_alarm"].all()  # the planted gap alarms every week (the state resets after an alarm)
    assert es[es["sunday"]]["note"].str.contains("CUSUM stepped on the week").any()
    assert not es["cusum_alarm"].any()  # no gap: the weekly steps stay quiet


@pytest.mark.slow
def test_second_class_users_name_the_planted_segment(decided_store: Store) -> None:
    table = gap_table(decided_store, ["language", "channel"], GapSettings())
    second = second_class_users(table)
    assert second["segment"].tolist()[:1] == ["hi"]
    row = second.iloc[0]
    assert row["severity"] == "critical" and "escalates them" in row["evidence"]
    assert "resolved" in row["evidence"] and "lower than en" in row["evidence"]
    result = run_cli(
        "second-class",
        "--by",
        "language",
        "--until",
        "2026-11-02",
        "--days",
        "30",
        "--format",
        "json",
        store=decided_store,
    )
    assert result.returncode == 0, result.stderr
    assert pd.read_json(__import__("io").StringIO(result.stdout))["segment"].tolist()[:1] == ["hi"]


def test_no_second_class_users_without_confirmed_quality_gaps() -> None:
    table = pd.DataFrame(
        [
            {"dimension": "d", "segment": "s", "reference": "r", "metric": "escalation_rate", "adjusted_gap": -0.1,
             "p_adjusted": 0.001, "status": "confirmed", "requests": 500, "users": 40},
            {"dimension": "d", "segment": "s", "reference": "r", "metric": "resolution_rate", "adjusted_gap": -0.1,
             "p_adjusted": 0.2, "status": "no_evidence", "requests": 500, "users": 40},
        ]
    )  # fmt: skip
    assert second_class_users(table).empty


def test_the_evidence_gives_each_gap_with_its_interval_not_a_p_value() -> None:
    """A sentence a PM forwards: how much lower, and within what, in points; no p-value."""
    table = pd.DataFrame(
        [
            {"dimension": "language", "segment": "hi", "reference": "en", "metric": "resolution_rate",
             "adjusted_gap": -0.113, "adjusted_se": 0.0075, "p_adjusted": 1e-30, "status": "confirmed",
             "requests": 4000, "users": 300},
        ]
    )  # fmt: skip
    (evidence,) = second_class_users(table)["evidence"]
    low, high = 11.3 - 1.959964 * 0.75, 11.3 + 1.959964 * 0.75
    assert evidence == (
        f"language=hi: resolved 11.3 points lower than en (95% interval {low:.1f} to {high:.1f}), at the same task mix."
    )


def test_decide_command_reports_and_is_idempotent(tmp_path: Path) -> None:
    store = Store(f"chdb://{tmp_path / 'store'}")
    ingest(store, [str(write_jsonl(generate(3_000, seed=1, days=3), tmp_path / "t.jsonl"))])
    first = run_cli("decide", "--by", "channel", store=store)
    assert first.returncode == 0 and "decided 3 day(s)" in first.stderr, first.stderr
    again = run_cli("decide", "--by", "channel", store=store)
    assert again.returncode == 0 and "already decided" in again.stderr
    count = "SELECT window_start, count(), max(decided_at) FROM gap_decisions FINAL GROUP BY window_start ORDER BY 1"
    before = store.query_rows(count)
    last = before[-1][0]
    redo = run_cli("decide", "--by", "channel", "--redo-from", last.isoformat(), store=store)
    assert redo.returncode == 0 and f"decided 1 day(s) ({last} to {last})" in redo.stderr, redo.stderr
    after = store.query_rows(count)
    assert [row[:2] for row in after] == [row[:2] for row in before]  # the same comparisons, none twice
    assert after[:-1] == before[:-1] and after[-1][2] > before[-1][2]  # only the last day judged again
    bad = run_cli("decide", "--redo-from", "yesterday", store=store)
    assert bad.returncode != 0 and "--redo-from" in bad.stderr


def test_touched_users_match_pandas_in_one_scan(synthetic_store: tuple[Store, Any]) -> None:
    store, frame = synthetic_store
    since, until = datetime(2026, 10, 10, tzinfo=UTC), datetime(2026, 10, 25, tzinfo=UTC)
    pairs = [("language", "hi"), ("channel", "api"), ("segments.native_speaker", "no"), ("tier", "nobody")]
    got = touched_users(store, pairs, since, until, where={"router": "bert-router@v7"}).set_index("segment")
    cut = frame[(frame["ts"] >= since) & (frame["ts"] < until) & (frame["router"] == "bert-router@v7")]
    native = cut["segments"].map(lambda keys: keys.get("native_speaker"))
    for segment, rows in [
        ("hi", cut[cut["language"] == "hi"]),
        ("api", cut[cut["channel"] == "api"]),
        ("no", cut[native == "no"]),
        ("nobody", cut.iloc[:0]),
    ]:
        assert got.loc[segment, "users"] == rows["user_id"].nunique(), segment
        assert got.loc[segment, "share"] == pytest.approx(rows["user_id"].nunique() / cut["user_id"].nunique())
        assert got.loc[segment, "cost_usd"] == pytest.approx(rows["cost_usd"].sum(), abs=1e-9)
    assert got.loc["hi", "users"] > 0 and got.loc["no", "users"] > 0
    assert touched_users(store, []).empty


def test_an_early_warning_reads_in_the_units_of_its_metric() -> None:
    from metrics.decisions import early_warnings

    stored = pd.DataFrame(
        {
            "window_start": [date(2026, 11, 20)] * 2,
            "dimension": ["channel"] * 2,
            "segment": ["api"] * 2,
            "reference": ["chat"] * 2,
            "metric": ["resolution_rate", "latency_p95"],
            "adjusted_gap": [-0.03, 0.169],
            "status": ["warning"] * 2,
        }
    )
    evidence = early_warnings(stored)["evidence"].tolist()
    assert "resolved 3.0 points lower than chat" in evidence[0]
    assert "p95 latency 16.9% higher than chat" in evidence[1]


def test_a_decision_note_separates_its_clauses() -> None:
    from alerts.judge import _noted

    notes = _noted(pd.Series(["", "no variation in escalated in zz", None]), "weekly audit")
    assert notes.tolist() == ["weekly audit", "no variation in escalated in zz; weekly audit", "weekly audit"]

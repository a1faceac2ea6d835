"""A gap the data already shows is confirmed on every path (`gaps`, `decide`, `second-class`), never called
underpowered or insufficient; and every view gives one verdict for one window."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ingest.load import ingest
from metrics.decisions import last_closed_week, latest_audit, verdict
from routewatch.store import Store
from tests.conftest import cli_json, run_cli, write_lines

MONDAY = date(2026, 11, 16)  # the planted traffic fills the ISO week of 16 to 22 November 2026
NEXT_MONDAY = MONDAY + timedelta(days=7)


def _traffic(path: Path, groups: list[dict[str, Any]], seed: int) -> Path:
    """One week of requests, one JSON line each: per group (a language) its users, requests and the rates at
    which its requests are escalated, resolved and rated thumbs-up (every request is rated), spread uniformly
    over the week and over the group's users."""
    rng = np.random.default_rng(seed)
    start = datetime.combine(MONDAY, datetime.min.time(), tzinfo=UTC)
    lines = []
    for group in groups:
        language, users, requests = group["language"], group["users"], group["requests"]
        seconds = np.sort(rng.integers(0, 7 * 86_400, requests))
        escalated = rng.random(requests) < group["escalated"]
        resolved = rng.random(requests) < group.get("resolved", 0.75)
        thumbs_up = rng.random(requests) < group.get("thumbs_up", 0.8)
        for i in range(requests):
            record = {
                "request_id": f"{language}-{i}",
                "ts": (start + timedelta(seconds=int(seconds[i]))).isoformat(),
                "user_id": f"{language}-u{i % users}",
                "language": language,
                "channel": "chat",
                "task_type": "chat",
                "route": "cheap",
                "model": "small-1",
                "cost_usd": 0.001,
                "latency_ms": 400.0,
                "escalated": bool(escalated[i]),
                "resolved": bool(resolved[i]),
                "thumb": 1 if thumbs_up[i] else -1,
                "segments": {"भाषा": language},  # the same groups under a key in another script
            }
            lines.append(json.dumps(record, ensure_ascii=False))
    return write_lines(path, lines)


# The two cases. Far apart in size: a segment escalated half as often, with a 16-point thumbs-up gap,
# and a segment that is never escalated (0 of 600) and resolves less.
HALF_AS_OFTEN = [
    {"language": "en", "users": 1_750, "requests": 35_000, "escalated": 0.205, "thumbs_up": 0.80},
    {"language": "hi", "users": 234, "requests": 4_600, "escalated": 0.108, "thumbs_up": 0.64},
]
NEVER_ESCALATED = [
    {"language": "en", "users": 200, "requests": 2_000, "escalated": 0.1075, "resolved": 0.75},
    {"language": "xx", "users": 100, "requests": 600, "escalated": 0.0, "resolved": 0.55},
]


@pytest.fixture(scope="module", params=["half_as_often", "never_escalated"])
def planted(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, str]:
    groups, segment = (HALF_AS_OFTEN, "hi") if request.param == "half_as_often" else (NEVER_ESCALATED, "xx")
    folder = tmp_path_factory.mktemp(request.param)
    store = Store(f"chdb://{folder / 'store'}", lock_timeout_s=60)
    ingest(store, [str(_traffic(folder / "traffic.jsonl", groups, seed=12))])
    return store, segment


def _window() -> tuple[str, ...]:
    return ("--since", MONDAY.isoformat(), "--until", NEXT_MONDAY.isoformat())


def test_gaps_confirm_the_planted_escalation_gap_with_its_evidence(planted: tuple[Store, str]) -> None:
    store, segment = planted
    rows = pd.DataFrame(cli_json("gaps", "--by", "language", "--format", "json", *_window(), store=store))
    row = rows[(rows["segment"] == segment) & (rows["metric"] == "escalation_rate")].iloc[0]
    assert row["status"] == "confirmed", row.to_dict()
    assert row["gap"] < -0.08 and row["ci_low"] < row["gap"] < row["ci_high"] < -0.02  # beyond the margin
    assert row["p_adjusted"] < 1e-6 and row["adjusted_gap"] < -0.08
    if segment == "xx":  # never escalated: a Wilson interval from zero, and the pooled design effect, said so
        assert row["value"] == 0 and abs(row["value_ci_low"]) < 1e-12 and 0 < row["value_ci_high"] < 0.01
        assert "pooled" in row["note"]
    planted_quality = "thumbs_up_rate" if segment == "hi" else "resolution_rate"
    quality = rows[(rows["segment"] == segment) & (rows["metric"] == planted_quality)].iloc[0]
    assert quality["status"] == "confirmed" and quality["adjusted_gap"] < -0.1
    # Nothing whose interval already lies beyond the margin is called underpowered.
    beyond = rows[(rows["ci_high"] < -0.03) | (rows["ci_low"] > 0.03)]
    assert not beyond["status"].isin(["underpowered", "insufficient_data"]).any()


def test_decide_and_second_class_give_the_same_verdict(planted: tuple[Store, str]) -> None:
    store, segment = planted
    # Before the week is decided, `second-class` computes its verdict now, and says so.
    live = run_cli(
        "second-class", "--by", "language", "--until", NEXT_MONDAY.isoformat(), "--format", "json", store=store
    )
    assert live.returncode == 0, live.stderr
    assert "computed now" in live.stderr and f"{MONDAY} to {MONDAY + timedelta(days=6)}" in live.stderr
    computed = pd.DataFrame(json.loads(live.stdout))
    assert computed["segment"].tolist() == [segment] and computed["severity"].tolist() == ["critical"]

    decided = run_cli("decide", "--by", "language", store=store)
    assert decided.returncode == 0, decided.stderr
    sunday = store.query_df(
        "SELECT segment, metric, status, gap, ci_low, ci_high, p_adjusted FROM gap_decisions FINAL "
        "WHERE window_start = {day:Date} AND metric = 'escalation_rate'",
        {"day": MONDAY + timedelta(days=6)},
    ).set_index("segment")
    assert sunday.loc[segment, "status"] == "confirmed"
    assert sunday.loc[segment, "ci_high"] < -0.02 and sunday.loc[segment, "p_adjusted"] < 1e-6
    days = store.query_df(
        "SELECT status FROM gap_decisions FINAL WHERE segment = {s:String} AND metric = 'escalation_rate' "
        "AND window_start < {day:Date}",
        {"s": segment, "day": MONDAY + timedelta(days=6)},
    )["status"]
    # A daily window either tests the gap (and the CUSUM warns) or is too small to test: never "underpowered".
    assert not days.isin(["underpowered", "no_evidence", "equivalent"]).any(), days.tolist()

    stored = run_cli(
        "second-class", "--by", "language", "--until", NEXT_MONDAY.isoformat(), "--format", "json", store=store
    )
    assert stored.returncode == 0 and "weekly audit stored" in stored.stderr
    from_decisions = pd.DataFrame(json.loads(stored.stdout))
    assert from_decisions[["segment", "severity", "evidence"]].equals(computed[["segment", "severity", "evidence"]])
    audit = latest_audit(store, ["language"])
    assert audit is not None and audit.stored and audit.first_day == MONDAY
    assert audit.users["evidence"].tolist() == from_decisions["evidence"].tolist()


def test_the_default_window_is_the_last_closed_iso_week() -> None:
    assert last_closed_week(date(2026, 11, 30)) == (date(2026, 11, 23), date(2026, 11, 29))  # a Monday
    assert last_closed_week(date(2026, 11, 29)) == (date(2026, 11, 16), date(2026, 11, 22))  # a Sunday: still open
    assert last_closed_week(date(2026, 12, 2)) == (date(2026, 11, 23), date(2026, 11, 29))


def test_a_window_that_is_not_an_iso_week_is_computed_now(planted: tuple[Store, str]) -> None:
    store, segment = planted
    found = verdict(store, ["language"], MONDAY, MONDAY + timedelta(days=4))
    assert not found.stored and "computed now" in found.describe()
    assert found.users["segment"].tolist() == [segment]


@pytest.mark.parametrize("days", ["0", "-3"])
def test_second_class_refuses_a_window_without_days(days: str, store: Store) -> None:
    result = run_cli("second-class", "--days", days, store=store)
    assert result.returncode != 0 and "--days" in result.stderr and "Traceback" not in result.stderr


def test_the_audit_confirms_the_planted_gap_too(planted: tuple[Store, str]) -> None:
    store, segment = planted
    args = ("gaps", "--by", "language", "--metric", "escalation_rate", "--audit", "--format", "json", *_window())
    row = pd.DataFrame(cli_json(*args, store=store)).set_index("segment").loc[segment]
    assert row["status"] == "confirmed" and row["adjusted_gap"] < -0.08 and row["p_adjusted"] < 1e-6
    # Never escalated separates the logit perfectly: the standardized test stands, and the note says why.
    assert row["adjusted_by"] == ("standardization" if segment == "xx" else "logit")


def test_decide_judges_a_segment_key_in_any_script(tmp_path: Path) -> None:
    store = Store(f"chdb://{tmp_path / 'store'}")
    ingest(store, [str(_traffic(tmp_path / "traffic.jsonl", NEVER_ESCALATED, seed=12))])
    decided = run_cli("decide", "--by", "segments.भाषा", store=store)
    assert decided.returncode == 0, decided.stderr
    sunday = store.query_df(
        "SELECT dimension, segment, status FROM gap_decisions FINAL "
        "WHERE window_start = {day:Date} AND metric = 'escalation_rate'",
        {"day": MONDAY + timedelta(days=6)},
    )
    assert sunday[["dimension", "segment", "status"]].values.tolist() == [["segments.भाषा", "xx", "confirmed"]]
    found = cli_json(
        "second-class", "--by", "segments.भाषा", "--until", NEXT_MONDAY.isoformat(), "--format", "json", store=store
    )
    assert [row["segment"] for row in found] == ["xx"]

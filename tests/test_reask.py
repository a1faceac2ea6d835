"""Re-asks counted exactly: against hand-made rows whose answer is known, and against an independent pandas
computation on synthetic traffic (with its planted re-asking language), by any dimension, with any window, and
in the gap statistics as a binary metric."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ingest import synthetic
from ingest.load import ingest
from metrics.gaps import GapSettings, gap_table
from metrics.registry import compute
from routewatch.store import Store
from tests.conftest import cli_json, good_record, write_lines

NOV_20, NOV_21 = datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)


def pandas_reasked(frame: pd.DataFrame, window_s: float) -> pd.Series:
    """Independently: each request's next one of the same user and session (a missing session is one session per
    user), in time order (request_id breaks ties), at most ``window_s`` later; or a user_retry escalation."""
    ts = pd.to_datetime(frame["ts"], utc=True, format="ISO8601")
    rows = frame.assign(_ts=ts, _session=frame["session_id"].fillna("") if "session_id" in frame else "")
    rows = rows.sort_values(["user_id", "_session", "_ts", "request_id"])
    following = rows.groupby(["user_id", "_session"])["_ts"].shift(-1) - rows["_ts"]
    retry = rows["escalation_reason"].eq("user_retry") if "escalation_reason" in rows else False
    return ((following <= pd.Timedelta(seconds=window_s)) | retry).reindex(frame.index)


RETRY = {"request_id": "e1", "ts": "2026-11-20T14:00:00Z", "session_id": "s4", "final_route": "mid", "model": "mid-1"}
RETRY.update(escalated=True, escalation_reason="user_retry")
# Each request with whether it is re-asked in a 10-minute window, and why.
CASES: list[tuple[dict[str, Any], bool]] = [
    ({"request_id": "a1", "ts": "2026-11-20T10:00:00Z", "session_id": "s1"}, True),  # a2 exactly 10 min later
    ({"request_id": "a2", "ts": "2026-11-20T10:10:00Z", "session_id": "s1"}, False),  # a3 10 min + 1 ms later
    ({"request_id": "a3", "ts": "2026-11-20T10:20:00.001Z", "session_id": "s1"}, False),  # last of its session
    ({"request_id": "b1", "ts": "2026-11-20T11:00:00Z", "session_id": "s1"}, False),  # b2 is another session
    ({"request_id": "b2", "ts": "2026-11-20T11:01:00Z", "session_id": "s2"}, False),
    ({"request_id": "c1", "ts": "2026-11-20T12:00:00Z", "session_id": "s3", "user_id": "u-2"}, False),  # c2: other user
    ({"request_id": "c2", "ts": "2026-11-20T12:01:00Z", "session_id": "s3", "user_id": "u-3"}, False),
    ({"request_id": "d1", "ts": "2026-11-20T13:00:00Z", "user_id": "u-4"}, True),  # both without a session
    ({"request_id": "d2", "ts": "2026-11-20T13:05:00Z", "user_id": "u-4"}, False),
    (RETRY, True),  # escalated because the user asked again
    ({"request_id": "f1", "ts": "2026-11-20T23:55:00Z", "session_id": "s5"}, True),  # f2 falls on the next day
    ({"request_id": "f2", "ts": "2026-11-21T00:02:00Z", "session_id": "s5"}, False),
    ({"request_id": "g1", "ts": "2026-11-20T15:00:00Z", "session_id": "s6"}, True),  # g2: the same millisecond
    ({"request_id": "g2", "ts": "2026-11-20T15:00:00Z", "session_id": "s6"}, False),
]


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Store:
    folder = tmp_path_factory.mktemp("reask")
    lines = [json.dumps(good_record(**record)) for record, _ in CASES]
    store = Store(f"chdb://{folder / 'store'}", lock_timeout_s=60)
    ingest(store, [str(write_lines(folder / "cases.jsonl", lines))])
    return store


def test_each_case_is_counted_as_its_definition_says(cases: Store) -> None:
    frame = pd.DataFrame([good_record(**record) for record, _ in CASES])
    expected = pd.Series([reasked for _, reasked in CASES])
    assert pandas_reasked(frame, 600).tolist() == expected.tolist()  # the reference agrees with the hand count
    total = compute(cases, "reask_rate")
    assert int(total["reasked"].iloc[0]) == int(expected.sum())
    assert int(total["requests"].iloc[0]) == len(CASES)
    # The window of 20 Nov alone: f1's follow-up after midnight still counts.
    day = compute(cases, "reask_rate", since=NOV_20, until=NOV_21)
    assert int(day["reasked"].iloc[0]) == int(expected.sum()) and int(day["requests"].iloc[0]) == len(CASES) - 1
    # A window of 9 minutes: a1 is no longer re-asked; d1 (5 minutes), e1 (user_retry), f1 (7) and g1 (0) still are.
    shorter = compute(cases, "reask_rate", reask_window_s=540)
    assert int(shorter["reasked"].iloc[0]) == int(expected.sum()) - 1
    with pytest.raises(ValueError, match="positive"):
        compute(cases, "reask_rate", reask_window_s=0)


def test_the_reask_rate_by_any_dimension_matches_pandas(synthetic_store: tuple[Store, pd.DataFrame]) -> None:
    store, frame = synthetic_store
    for window_s in (600.0, 90.0):
        rows = frame.assign(_reasked=pandas_reasked(frame, window_s))
        for by in (["language"], ["channel", "route"], ["segments.client"]):
            keys = [b.removeprefix("segments.") for b in by]
            if "client" in keys:
                rows = rows.assign(client=rows["segments"].map(lambda s: s["client"]))
            direct = rows.groupby(keys)["_reasked"].agg(["size", "sum"])
            got = compute(store, "reask_rate", by=by, reask_window_s=window_s).set_index(by)
            assert got["requests"].tolist() == direct["size"].tolist(), (by, window_s)
            assert got["reasked"].tolist() == direct["sum"].tolist(), (by, window_s)
            assert np.allclose(got["reask_rate"], direct["sum"] / direct["size"], rtol=1e-12)
    assert rows["_reasked"].sum() > 0


def test_the_planted_re_asking_language(synthetic_store: tuple[Store, pd.DataFrame]) -> None:
    store, frame = synthetic_store
    escalated = frame[frame["escalated"]]
    share = escalated.groupby("language")["escalation_reason"].apply(lambda r: r.eq("user_retry").mean())
    assert share["hi"] == pytest.approx(synthetic.USER_RETRY_SHARE["hi"], abs=0.15)
    assert share.drop("hi").eq(0).all()
    rate = compute(store, "reask_rate", by=["language"]).set_index("language")["reask_rate"]
    assert rate["hi"] > 2 * rate["en"]


def test_reasks_in_the_gap_statistics_as_a_binary_metric(synthetic_store: tuple[Store, pd.DataFrame]) -> None:
    store, frame = synthetic_store
    table = gap_table(store, ["language"], GapSettings(reask_window_s=600), metrics=["reask_rate"])
    rows = table.set_index("segment")
    # Each user is whole in one language in the synthetic traffic, so the modal segments are the languages.
    direct = frame.assign(_reasked=pandas_reasked(frame, 600)).groupby("language")["_reasked"].mean()
    for segment, row in rows.iterrows():
        assert row["value"] == pytest.approx(direct[segment], rel=1e-12)
        assert row["reference_value"] == pytest.approx(direct["en"], rel=1e-12)
    # Not part of the default family: the decisions' gap tables are as before.
    assert "reask_rate" not in set(gap_table(store, ["language"])["metric"])


def test_the_demo_shows_hindi_speakers_re_ask(demo_store: Store) -> None:
    printed = cli_json("gaps", "--by", "language", "--metric", "reask_rate", "--format", "json", store=demo_store)
    hi = pd.DataFrame(printed).set_index("segment").loc["hi"]
    assert hi["status"] == "confirmed" and hi["gap"] > 0.02 and hi["ci_low"] > 0


def test_the_window_is_a_setting(synthetic_store: tuple[Store, pd.DataFrame], monkeypatch: pytest.MonkeyPatch) -> None:
    store, frame = synthetic_store
    monkeypatch.setenv("ROUTEWATCH_REASK_WINDOW", "90")
    rows = cli_json("metrics", "reask_rate", "--format", "json", store=store)
    assert rows[0]["reasked"] == int(pandas_reasked(frame, 90).sum())


def test_a_window_that_is_not_positive_is_a_clear_error(tmp_path: Path) -> None:
    from routewatch.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="reask_window_s"):
        load_settings({"reask_window_s": "-5"}, config_path=tmp_path / "none.toml")

"""Faults that real logs and real operations hit, each kind with its inputs and their right values, on every
reader (JSONL, CSV, Parquet, feedback) and on both query paths (the daily rollup and the request rows)."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.load import ingest
from metrics.dimensions import MISSING_SEGMENT, segment_key_ok
from metrics.gaps import gap_table
from metrics.health import orphan_feedback
from metrics.registry import METRICS, compute
from metrics.window import WindowError
from routewatch import output
from routewatch.store import Store
from tests.browser import free_port, wait_until_serving
from tests.conftest import ROOT, good_record, run_cli, write_lines

R = {"user_id": "u1", "route": "cheap", "model": "m", "cost_usd": 0.001, "latency_ms": 100}
NOV_20_10H_MS = 1_795_168_800_000  # 2026-11-20T10:00:00Z

# Timestamp text and what it must become: epoch milliseconds, or a quarantine reason.
TIMESTAMPS: list[tuple[str, int | str]] = [
    ("2026-11-20", "is a date without a time of day and a UTC offset"),
    ("2026-11-20T10:00:00", "has no UTC offset"),
    ("2026-11-20 10:00", "has no UTC offset"),
    ("2026-11-20T10:00:00.123", "has no UTC offset"),
    ("2026-11-20T10:00:00 UTC", "is neither ISO 8601 with a UTC offset nor epoch"),
    ("Fri, 20 Nov 2026 10:00:00", "is neither ISO 8601 with a UTC offset nor epoch"),
    ("11/20/2026 10:00", "is neither ISO 8601 with a UTC offset nor epoch"),
    ("2026-11-20T10:00:00Z", NOV_20_10H_MS),
    ("2026-11-20T15:30:00+05:30", NOV_20_10H_MS),
    ("2026-11-20T02:00:00.250-0800", NOV_20_10H_MS + 250),
    ("2026-11-20 10:00:00+00", NOV_20_10H_MS),
    ("1795168800", NOV_20_10H_MS),
    ("1795168800000", NOV_20_10H_MS),
    # every part in range, or quarantined naming the part as given (the engine's parser would roll it over)
    ("2026-11-20T25:00:00Z", "hour 25 is out of range (00 to 23)"),
    ("2026-11-20T24:00:00Z", "hour 24 is out of range (00 to 23)"),
    ("2026-11-20T10:60:00Z", "minute 60 is out of range (00 to 59)"),
    ("2026-11-20T10:00:60Z", "second 60 is out of range (00 to 59)"),
    ("2026-11-31T10:00:00Z", "day 31 is out of range (November 2026 has 30 days)"),
    ("2026-02-29T10:00:00Z", "day 29 is out of range (February 2026 has 28 days)"),
    ("2100-02-29T10:00:00Z", "day 29 is out of range (February 2100 has 28 days)"),
    ("2026-11-00T10:00:00Z", "day 00 is out of range (November 2026 has 30 days)"),
    ("2026-13-01T10:00:00Z", "month 13 is out of range (01 to 12)"),
    ("20261120T250000Z", "hour 25 is out of range"),
    ("2026-11-20T10:00:00+24:00", "offset hour 24 is out of range (00 to 23)"),
    ("2026-11-20T10:00:00+05:60", "offset minute 60 is out of range (00 to 59)"),
    ("2024-02-29T10:00:00Z", 1_709_200_800_000),  # a leap day
    ("2000-02-29T10:00:00Z", 951_818_400_000),
    # out of the window, shown as given (not as the milliseconds it was read as)
    ("17951688000", "ts: 17951688000 is before 2000 or in the future"),
    ("1999-12-31T23:00:00Z", "ts: 1999-12-31T23:00:00Z is before 2000 or in the future"),
]


def _loaded_ts(store: Store) -> dict[str, int]:
    rows = store.query_rows("SELECT request_id, toUnixTimestamp64Milli(ts) FROM requests FINAL")
    return {request_id: int(ms) for request_id, ms in rows}


def _reasons(store: Store) -> dict[tuple[str, int], list[str]]:
    rows = store.query_rows("SELECT source_file, source_line, reasons FROM quarantine FINAL")
    return {(Path(file).name, int(line)): list(reasons) for file, line, reasons in rows}


def test_a_timestamp_without_a_real_offset_is_quarantined_by_every_reader(store: Store, tmp_path: Path) -> None:
    records = [{"request_id": f"t{i}", "ts": ts, **R} for i, (ts, _) in enumerate(TIMESTAMPS)]
    write_lines(tmp_path / "t.jsonl", [json.dumps(r) for r in records])
    pd.DataFrame(records).assign(request_id=lambda f: "csv-" + f["request_id"]).to_csv(tmp_path / "t.csv", index=False)
    table = pa.Table.from_pylist([{**r, "request_id": "pq-" + r["request_id"]} for r in records])
    pq.write_table(table, tmp_path / "t.parquet")
    events = [{"request_id": f"t{i}", "ts": ts, "kind": "thumb", "value": 1} for i, (ts, _) in enumerate(TIMESTAMPS)]
    write_lines(tmp_path / "f.jsonl", [json.dumps(e) for e in events])
    report = ingest(store, [str(tmp_path / n) for n in ("t.jsonl", "t.csv", "t.parquet", "f.jsonl")])
    assert [f.format for f in report.files] == ["jsonl", "csv", "parquet", "feedback"]
    loaded, reasons = _loaded_ts(store), _reasons(store)
    events_ms = dict(store.query_rows("SELECT request_id, toUnixTimestamp64Milli(ts) FROM feedback FINAL"))
    for i, (ts, right) in enumerate(TIMESTAMPS):
        places = [("t.jsonl", f"t{i}", i + 1), ("t.csv", f"csv-t{i}", i + 2), ("t.parquet", f"pq-t{i}", i + 1)]
        for file, request_id, line in places:
            if isinstance(right, int):
                assert loaded.get(request_id) == right, (file, ts)
            else:
                assert request_id not in loaded, (file, ts)
                assert any(right in reason and ts in reason for reason in reasons[(file, line)]), (file, ts, reasons)
        if isinstance(right, int):
            assert events_ms.get(f"t{i}") == right, ("feedback", ts)
        else:
            assert any(right in reason for reason in reasons[("f.jsonl", i + 1)]), ("feedback", ts)


def test_a_parquet_timestamp_needs_its_time_zone(store: Store, tmp_path: Path) -> None:
    moment = pd.Timestamp("2026-11-20T10:00:00")
    for name, stamp in (("naive.parquet", moment), ("utc.parquet", moment.tz_localize("UTC"))):
        pq.write_table(pa.Table.from_pylist([{"request_id": name, "ts": stamp, **R}]), tmp_path / name)
    ingest(store, [str(tmp_path / "naive.parquet"), str(tmp_path / "utc.parquet")])
    assert _loaded_ts(store) == {"utc.parquet": NOV_20_10H_MS}
    assert "has no UTC offset" in _reasons(store)[("naive.parquet", 1)][0]


@pytest.fixture
def one_row(store: Store, tmp_path: Path) -> Store:
    """One request at 2026-11-20T10:00:00.000Z, one at 23:30Z the same day."""
    rows = [
        {"request_id": "a", "ts": "2026-11-20T10:00:00Z", **R},
        {"request_id": "b", "ts": "2026-11-20T23:30:00Z", **R},
    ]
    ingest(store, [str(write_lines(tmp_path / "one.jsonl", [json.dumps(r) for r in rows]))])
    return store


@pytest.mark.parametrize("bucket", ["hour", "day", "week"])
def test_bucket_labels_are_utc_on_a_host_in_another_time_zone(one_row: Store, bucket: str) -> None:
    utc = {"hour": ["2026-11-20T10:00:00+00:00", "2026-11-20T23:00:00+00:00"], "day": ["2026-11-20T00:00:00+00:00"]}
    utc["week"] = ["2026-11-16T00:00:00+00:00"]
    los_angeles = {"TZ": "America/Los_Angeles"}
    for window in ([], ["--since", "2026-11-20T09:00:00Z"], ["--since", "2026-11-20"]):  # exact and rollup paths
        for fmt in ("json", "csv"):
            result = run_cli(
                "metrics", "volume", "--bucket", bucket, "--format", fmt, *window, store=one_row, env_extra=los_angeles
            )
            assert result.returncode == 0, result.stderr
            labels = (
                [row["bucket"] for row in json.loads(result.stdout)]
                if fmt == "json"
                else pd.read_csv(io.StringIO(result.stdout))["bucket"].tolist()
            )
            assert labels == utc[bucket], (window, fmt)
    frame = compute(one_row, "escalation_rate", bucket=bucket)  # what the dashboard draws
    assert [t.isoformat() for t in frame["bucket"]] == utc[bucket]


def test_window_bounds_are_exact_and_an_inverted_window_is_an_error(one_row: Store) -> None:
    def requests(*window: str) -> int:
        result = run_cli("metrics", "volume", "--format", "json", *window, store=one_row)
        assert result.returncode == 0, result.stderr
        return sum(row["requests"] for row in json.loads(result.stdout))

    assert requests("--until", "2026-11-20T10:00:00.0005Z") == 1  # the row at 10:00:00.000 is before the bound
    assert requests("--until", "2026-11-20T10:00:00Z") == 0
    assert requests("--since", "2026-11-20T10:00:00.0005Z") == 1  # only the 23:30 one is at or after it
    assert requests("--since", "2026-11-20T09:59:59.9995Z", "--until", "2026-11-20T10:00:00.0001Z") == 1
    late = pd.Timestamp("2026-11-20T10:00:00.0005Z").to_pydatetime()
    assert int(compute(one_row, "volume", until=late, exact=True)["requests"].sum()) == 1
    inverted = run_cli("metrics", "volume", "--since", "2026-11-21", "--until", "2026-11-20", store=one_row)
    assert inverted.returncode == 1 and "--since 2026-11-21 is after --until 2026-11-20" in inverted.stderr
    gaps = run_cli("gaps", "--since", "2026-11-21", "--until", "2026-11-20", store=one_row)
    assert gaps.returncode == 1 and "is after --until" in gaps.stderr
    with pytest.raises(WindowError):
        compute(one_row, "volume", since=pd.Timestamp("2026-11-21T00:00Z"), until=pd.Timestamp("2026-11-20T00:00Z"))
    for days in ("-3", "0"):
        negative = run_cli("second-class", "--days", days, store=one_row)
        assert negative.returncode == 1 and f"1 or more, not {days}" in negative.stderr


def test_detection_sees_through_a_bom_crlf_and_blank_lines(store: Store, tmp_path: Path) -> None:
    bom = b"\xef\xbb\xbf"
    event = b'{"request_id":"k-1","ts":"2026-11-20T11:00:00Z","kind":"thumb","value":1}'
    (tmp_path / "feedback.jsonl").write_bytes(bom + event + b"\n")
    (tmp_path / "feedback-crlf.jsonl").write_bytes(bom + b"\r\n\r\n" + event.replace(b"k-1", b"k-2") + b"\r\n")
    request = json.dumps({"request_id": "k-1", "ts": "2026-11-20T10:00:00Z", **R}).encode()
    (tmp_path / "requests.log").write_bytes(bom + b"\r\n  \r\n" + request + b"\r\n")  # no telling suffix
    header = b"request_id,ts,user_id,route,model,cost_usd,latency_ms"
    (tmp_path / "requests.csv").write_bytes(
        bom + b"\r\n\r\n" + header + b"\r\nk-2,2026-11-20T10:00:00Z,u,cheap,m,0.1,5\r\n"
    )
    names = ("feedback.jsonl", "feedback-crlf.jsonl", "requests.log", "requests.csv")
    report = ingest(store, [str(tmp_path / name) for name in names])
    assert [f.format for f in report.files] == ["feedback", "feedback", "jsonl", "csv"]
    assert [(f.loaded, f.quarantined) for f in report.files] == [(1, 0)] * 4
    assert [f.read for f in report.files] == [1, 1, 1, 1]
    thumbs = store.query_rows("SELECT request_id, thumb FROM requests FINAL ORDER BY request_id")
    assert thumbs == [("k-1", 1), ("k-2", 1)]
    assert store.query_rows("SELECT source_line FROM requests FINAL WHERE request_id = 'k-1'")[0][0] == 3


# Feedback values and the request field each sets: the same value, the same verdict.
FEEDBACK_VALUES: list[tuple[str, str, Any, str | None]] = [
    ("csat", "csat", 4.5, "expected a whole number, got 4.5"),
    ("csat", "csat", 6, "6 is outside [1, 5]"),
    ("csat", "csat", 5, None),
    ("resolved", "resolved", 0.4, "expected true/false or 0/1, got 0.4"),
    ("resolved", "resolved", 2, "expected true/false or 0/1, got 2"),
    ("resolved", "resolved", True, None),
    ("thumb", "thumb", 0, "0 is not one of [-1, 1]"),
    ("thumb", "thumb", 0.5, "expected a whole number, got 0.5"),
    ("thumb", "thumb", -1, None),
    ("ticket", None, 2.7, "expected a whole number, got 2.7"),
    ("ticket", None, -1, "-1 is outside [0, 4294967295]"),
    ("ticket", None, 2, None),
]


def test_feedback_values_meet_the_request_contract(store: Store, tmp_path: Path) -> None:
    events = [
        {"request_id": f"r{i}", "ts": "2026-11-20T11:00:00Z", "kind": kind, "value": value}
        for i, (kind, _, value, _) in enumerate(FEEDBACK_VALUES)
    ]
    requests = [
        {"request_id": f"q{i}", "ts": "2026-11-20T10:00:00Z", **R, field: value}
        for i, (_, field, value, _) in enumerate(FEEDBACK_VALUES)
        if field is not None
    ]
    feedback = write_lines(tmp_path / "feedback.jsonl", [json.dumps(e) for e in events])
    report = ingest(store, [str(feedback), str(write_lines(tmp_path / "requests.jsonl", map(json.dumps, requests)))])
    reasons = _reasons(store)
    kept = {request_id: (kind, value) for request_id, kind, value in store.query_rows(
        "SELECT request_id, kind, value FROM feedback FINAL"
    )}  # fmt: skip
    line = 0
    for i, (kind, field, value, reason) in enumerate(FEEDBACK_VALUES):
        if reason is None:
            assert kept[f"r{i}"] == (kind, float(value)), kind
        else:
            assert f"r{i}" not in kept and any(reason in r for r in reasons[("feedback.jsonl", i + 1)]), (kind, value)
        if field is not None:
            line += 1
            assert (("requests.jsonl", line) in reasons) == (reason is not None), (field, value)
            if reason is not None:
                assert any(reason in r for r in reasons[("requests.jsonl", line)]), (field, value)
    bad = sum(reason is not None for *_, reason in FEEDBACK_VALUES)
    assert report.files[0].quarantined == bad


def test_orphan_feedback_is_counted_with_its_age(store: Store, tmp_path: Path) -> None:
    now = pd.Timestamp.now(tz="UTC").floor("s")
    events = [
        {"request_id": "here", "ts": now.isoformat(), "kind": "thumb", "value": 1},
        {"request_id": "gone", "ts": (now - pd.Timedelta(days=10)).isoformat(), "kind": "thumb", "value": 1},
        {"request_id": "gone", "ts": (now - pd.Timedelta(days=10)).isoformat(), "kind": "csat", "value": 4},
        {"request_id": "late", "ts": (now - pd.Timedelta(hours=2)).isoformat(), "kind": "thumb", "value": -1},
    ]
    request = {**good_record("here"), "ts": now.isoformat()}
    ingest(store, [str(write_lines(tmp_path / "r.jsonl", [json.dumps(request)]))])
    ingest(store, [str(write_lines(tmp_path / "f.jsonl", [json.dumps(e) for e in events]))])
    found = orphan_feedback(store)
    assert {k: v for k, v in found.items() if k != "oldest_orphan"} == {
        "orphan_events": 3, "orphan_requests": 2, "older_than_1d": 2, "older_than_7d": 2,
    }  # fmt: skip
    assert found["oldest_orphan"] == now - pd.Timedelta(days=10)
    doctor = run_cli("doctor", store=store)
    assert "3 events for 2 requests never loaded; 2 older than a day, 2 older than a week" in doctor.stdout
    late = {**good_record("late"), "ts": now.isoformat()}
    ingest(store, [str(write_lines(tmp_path / "late.jsonl", [json.dumps(late)]))])
    assert orphan_feedback(store)["orphan_events"] == 2  # the request arrived and took its feedback
    assert store.query_rows("SELECT thumb FROM requests FINAL WHERE request_id = 'late'")[0][0] == -1


def test_an_unpriced_request_loads_counts_in_volume_and_in_no_cost(store: Store, tmp_path: Path) -> None:
    """Neither a cost nor a price: loaded with cost_usd NULL and cost_source 'unpriced' (a departure from DESIGN.md's
    contract, where cost_usd is required); a contradiction or an unknown source is quarantined with its reason."""
    records = [
        {"request_id": "priced", "ts": "2026-11-20T10:00:00Z", **R},
        {"request_id": "unpriced", "ts": "2026-11-20T10:00:00Z", **R, "cost_usd": None, "cost_source": "unpriced"},
        {"request_id": "both", "ts": "2026-11-20T10:00:00Z", **R, "cost_source": "unpriced"},
        {"request_id": "silent", "ts": "2026-11-20T10:00:00Z", **{k: v for k, v in R.items() if k != "cost_usd"}},
        {"request_id": "guess", "ts": "2026-11-20T10:00:00Z", **R, "cost_source": "guess"},
    ]
    path = write_lines(tmp_path / "u.jsonl", [json.dumps(r) for r in records])
    report = ingest(store, [str(path)])
    assert (report.total("loaded"), report.total("quarantined")) == (2, 3)
    reasons = dict(store.query_rows("SELECT source_line, reasons FROM quarantine FINAL"))
    assert reasons[3] == ["cost_source: unpriced, yet cost_usd is given (0.001)"]
    assert any("cost_usd" in r and "required" in r for r in reasons[4]), reasons[4]
    assert any(r.startswith("cost_source: 'guess'") for r in reasons[5]), reasons[5]
    stored = dict(store.query_rows("SELECT request_id, tuple(cost_usd, cost_source) FROM requests FINAL"))
    assert stored == {"priced": (Decimal("0.001"), "reported"), "unpriced": (None, "unpriced")}
    volume = compute(store, "volume").iloc[0]
    assert (volume["requests"], float(volume["cost_usd"]), volume["unpriced"]) == (2, 0.001, 1)
    cost = compute(store, "cost_per_resolved").iloc[0]
    assert (cost["requests"], cost["priced"], cost["unpriced"], cost["cost_per_request"]) == (2, 1, 1, 0.001)
    assert ingest(store, [str(path)]).total("loaded") == 0  # a second load changes nothing
    doctor = run_cli("doctor", store=store)
    assert "1 of 2 requests (50.0%) have neither a cost nor a price (models: m)" in doctor.stdout


def test_segment_values_null_numbers_booleans_and_objects(store: Store, tmp_path: Path) -> None:
    segments: list[dict[str, Any]] = [
        {"plan": None},
        {"plan": "null"},
        {},
        {"plan": 1.0, "beta": True},
        {"plan": 1, "beta": "true"},
        {"plan": 2.5e3, "beta": False},
        {"plan": {"name": "pro"}},
        {"plan": ["pro"]},
        {"plan": ""},
    ]
    records = [
        {"request_id": f"s{i}", "ts": "2026-11-20T10:00:00Z", **R, "segments": s} for i, s in enumerate(segments)
    ]
    write_lines(tmp_path / "s.jsonl", [json.dumps(r) for r in records])
    pq.write_table(
        pa.Table.from_pylist(
            [{**records[0], "request_id": "pq-null", "segments": [("plan", None), ("beta", "x")]}],
            schema=pa.schema(
                [
                    *((k, pa.string()) for k in ("request_id", "ts", "user_id", "route", "model")),
                    ("cost_usd", pa.float64()),
                    ("latency_ms", pa.float64()),
                    ("segments", pa.map_(pa.string(), pa.string())),
                ]
            ),
        ),
        tmp_path / "s.parquet",
    )
    ingest(store, [str(tmp_path / "s.jsonl"), str(tmp_path / "s.parquet")])
    stored = dict(store.query_rows("SELECT request_id, segments FROM requests FINAL"))
    assert stored == {
        "s0": {},
        "s1": {"plan": "null"},
        "s2": {},
        "s3": {"plan": "1", "beta": "true"},
        "s4": {"plan": "1", "beta": "true"},
        "s5": {"plan": "2500", "beta": "false"},
        "s8": {"plan": ""},
        "pq-null": {"beta": "x"},
    }
    reasons = _reasons(store)
    assert reasons[("s.jsonl", 7)] == [
        'segments: the value of \'plan\' is an object, expected text, a number or true/false: {"name":"pro"}'
    ]
    assert "is an array" in reasons[("s.jsonl", 8)][0]
    for exact in (False, True):
        plans = compute(store, "volume", by=["segments.plan"], exact=exact)
        assert dict(zip(plans["segments.plan"], plans["requests"], strict=True)) == {
            MISSING_SEGMENT: 3,  # a missing key (or null) is told apart from a real "" (trial finding 13)
            "": 1,
            "null": 1,
            "1": 2,
            "2500": 1,
        }
        missing = compute(store, "volume", where={"segments.plan": MISSING_SEGMENT}, exact=exact)
        assert missing["requests"].tolist() == [3]
    printed = json.loads(run_cli("metrics", "volume", "--by", "segments.plan", "--format", "json", store=store).stdout)
    assert {row["segments.plan"]: row["requests"] for row in printed}[MISSING_SEGMENT] == 3
    csv = run_cli("metrics", "volume", "--by", "segments.plan", "--format", "csv", store=store).stdout
    assert sorted(pd.read_csv(io.StringIO(csv), dtype=str, keep_default_na=False)["segments.plan"]) == sorted(
        ["(missing)", "", "null", "1", "2500"]
    )


KEYS = ["भाषा", "plan tier", "région", "言語", "a.b:c-d_e"]

# Texts for the parse functions: ASCII, NFD and NFC, invalid UTF-8 (hex), marks, keys of 64 and 65 characters.
TEXTS_HEX = [
    text.encode().hex()
    for text in ["", "en", "e\u0301", "\u00e9", "Cafe\u0301 au lait", "\u1100\u1161", "k" * 64, "k" * 65, "é" * 64,
                 "é" * 65, "e\u0301" * 32, "e\u0301" * 33, "a`b", "tab\tkey", "x)--", "plan tier", "言語", "Å",
                 "\u212b", "\u0301", "a\x00b"]
] + ["c3", "ff", "80", "e282", "61c328", "6162c3a9"]  # fmt: skip


def test_the_faster_parse_functions_give_the_old_values(store: Store) -> None:
    """Migration 015's routewatch_nfc and routewatch_segment_key_ok against 009's definitions, inlined here."""
    from routewatch.migrations import migrate

    migrate(store)
    rows = store.query_rows(
        "SELECT hex(t), hex(routewatch_nfc(t)), hex(if(isValidUTF8(coalesce(t, '')), "
        "normalizeUTF8NFC(if(isValidUTF8(coalesce(t, '')), t, '')), t)), routewatch_segment_key_ok(t), "
        "match(t, '^[\\\\p{L}\\\\p{M}\\\\p{N}_.: -]{1,64}$') "
        "FROM (SELECT arrayJoin(arrayMap(h -> unhex(h), {texts:Array(String)})) AS t)",
        {"texts": TEXTS_HEX},
    )
    assert len(rows) == len(TEXTS_HEX)
    assert [(text, new) for text, new, _, _, _ in rows] == [(text, old) for text, _, old, _, _ in rows]
    assert [(text, new) for text, _, _, new, _ in rows] == [(text, old) for text, _, _, _, old in rows]
    assert sum(ok for _, _, _, ok, _ in rows) >= 8  # the keys that pass are there too
    assert store.query_rows("SELECT routewatch_nfc(NULL) IS NULL, routewatch_segment_key_ok(NULL) IS NULL")[0] == (
        True,
        True,
    )


def _timestamp_texts() -> list[str]:
    """ISO 8601 texts of every shape the parse reads, with parts in and out of range, and other texts beside."""
    import random

    rng = random.Random(16)
    texts = [text for text, _ in TIMESTAMPS] + ["", "Z", "2026-11-20T10:00:00Zz", "2026-11-20T10:00:00+05:30:00"]
    for _ in range(3000):
        year, month = rng.choice(["2024", "2026", "2100", "2000", "1999"]), f"{rng.randint(0, 13):02d}"
        day, hour = f"{rng.choice([0, 1, 28, 29, 30, 31, 32, 15]):02d}", f"{rng.choice([0, 9, 23, 24, 25]):02d}"
        minute, second = f"{rng.choice([0, 30, 59, 60]):02d}", f"{rng.choice([0, 59, 60, 99]):02d}"
        offset = rng.choice(["Z", "z", "+00:00", "-05:30", "+24:00", "+05:60", "+0530", "+05", " Z", "-23:59"])
        dash, colon = rng.choice([("-", ":"), ("", ""), ("-", "")])
        time = rng.choice([f"{hour}{colon}{minute}{colon}{second}", f"{hour}{colon}{minute}", hour])
        fraction = rng.choice(["", ".123", ",5", ".123456789"]) if time.count(colon) == 2 or not colon else ""
        texts.append(f"{year}{dash}{month}{dash}{day}{rng.choice('Tt ')}{time}{fraction}{offset}")
    return texts


def test_the_faster_timestamp_function_gives_the_old_values(store: Store) -> None:
    """Migration 016's routewatch_epoch_ms against 012's definition, inlined here, on every shape of timestamp."""
    from routewatch.migrations import migrate

    migrate(store)
    texts = _timestamp_texts()
    rows = store.query_rows(
        "SELECT t, routewatch_epoch_ms(t), multiIf("
        "isFinite(coalesce(toFloat64OrNull(t), nan)) AND abs(toFloat64OrNull(t)) < 1e15, "
        "toInt64(round(if(toFloat64OrNull(t) >= 1e11, toFloat64OrNull(t), toFloat64OrNull(t) * 1000))), "
        "routewatch_iso_offset(t) AND routewatch_iso_range_error(routewatch_iso_parts(t)) = '', "
        "toUnixTimestamp64Milli(parseDateTime64BestEffortOrNull(t, 3, 'UTC')), NULL) "
        "FROM (SELECT arrayJoin({texts:Array(String)}) AS t)",
        {"texts": texts},
    )
    assert len(rows) == len(texts)
    assert [(text, new) for text, new, _ in rows] == [(text, old) for text, _, old in rows]
    # both kinds are there: read, and refused for a part out of range in the form read by positions
    assert sum(new is not None for _, new, _ in rows) > 100
    assert sum(new is None and text[4:5] == "-" and text[13:14] == ":" for text, new, _ in rows) > 100
    assert store.query_rows("SELECT routewatch_epoch_ms(NULL) IS NULL")[0] == (True,)


def test_every_segment_key_that_loads_can_be_queried(store: Store, tmp_path: Path) -> None:
    records = [
        {
            "request_id": f"k{i}-{j}",
            "ts": "2026-11-20T10:00:00Z",
            **R,
            "user_id": f"u{j}",
            "segments": {key: f"v{j % 2}"},
        }
        for i, key in enumerate(KEYS)
        for j in range(4)
    ]
    refused = ["a`b", "x)--", "", "k" * 65, "tab\tkey", "semi;colon", "quote'd"]
    records += [
        {"request_id": f"bad{i}", "ts": "2026-11-20T10:00:00Z", **R, "segments": {key: "v"}}
        for i, key in enumerate(refused)
    ]
    report = ingest(
        store, [str(write_lines(tmp_path / "k.jsonl", [json.dumps(r, ensure_ascii=False) for r in records]))]
    )
    assert (report.total("loaded"), report.total("quarantined")) == (4 * len(KEYS), len(refused))
    assert all("cannot be a dimension" in reasons[0] for reasons in _reasons(store).values())
    assert [key for key in KEYS + refused if segment_key_ok(key)] == KEYS  # the same rule at query time
    for key in KEYS:
        result = run_cli("metrics", "volume", "--by", f"segments.{key}", "--format", "json", store=store)
        assert result.returncode == 0, result.stderr
        assert {row[f"segments.{key}"]: row["requests"] for row in json.loads(result.stdout)} == {
            "(missing)": 16,  # requests without the key: labelled, never an empty string
            "v0": 2,
            "v1": 2,
        }
        where = run_cli("metrics", "volume", "--where", f"segments.{key}=v1", "--format", "json", store=store)
        assert json.loads(where.stdout)[0]["requests"] == 2
        table = gap_table(store, [f"segments.{key}"])  # the gaps and the decisions cut by the same expression
        assert set(table["segment"]) <= {"(missing)", "v0", "v1"}


def test_text_that_looks_the_same_groups_the_same(store: Store, tmp_path: Path) -> None:
    composed, decomposed = "fr-\u00e9", "fr-e\u0301"
    assert composed != decomposed and unicodedata.normalize("NFC", decomposed) == composed
    records = [
        {"request_id": f"n{i}", "ts": "2026-11-20T10:00:00Z", **R, "language": language, "segments": {key: language}}
        for i, (language, key) in enumerate(
            [(composed, "r\u00e9gion"), (decomposed, "re\u0301gion"), ("en", "r\u00e9gion")]
        )
    ]
    ingest(store, [str(write_lines(tmp_path / "n.jsonl", [json.dumps(r) for r in records]))])
    for exact in (False, True):
        frame = compute(store, "volume", by=["language"], exact=exact)
        assert dict(zip(frame["language"], frame["requests"], strict=True)) == {composed: 2, "en": 1}
    by_key = compute(store, "volume", by=["segments.re\u0301gion"], where={"language": decomposed})
    assert by_key["requests"].tolist() == [2] and by_key.iloc[0, 0] == composed


def test_invalid_utf8_in_text_that_is_normalized_is_quarantined_not_fatal(store: Store, tmp_path: Path) -> None:
    good = json.dumps({"request_id": "ok", "ts": "2026-11-20T10:00:00Z", **R}).encode()
    bad = [
        json.dumps({"request_id": "lang", "ts": "2026-11-20T10:00:00Z", **R, "language": "X"}).encode(),
        json.dumps({"request_id": "key", "ts": "2026-11-20T10:00:00Z", **R, "segments": {"X": "v"}}).encode(),
        json.dumps({"request_id": "value", "ts": "2026-11-20T10:00:00Z", **R, "segments": {"k": "X"}}).encode(),
    ]
    lines = [good, *(line.replace(b'"X"', b'"a\xffb"') for line in bad)]
    report = ingest(store, [str(write_lines(tmp_path / "u.jsonl", lines))])
    assert (report.total("loaded"), report.total("quarantined")) == (1, 3)
    offsets = [line.index(b"\xff") + 1 for line in lines[1:]]
    assert [_reasons(store)[("u.jsonl", n)] for n in (2, 3, 4)] == [
        [f"language: invalid UTF-8 at byte {offsets[0]} of the line"],
        [f"segments: invalid UTF-8 at byte {offsets[1]} of the line"],  # in a key
        [f"segments.k: invalid UTF-8 at byte {offsets[2]} of the line"],
    ]
    header = b"request_id,ts,user_id,route,model,cost_usd,latency_ms,language\n"
    (tmp_path / "u.csv").write_bytes(header + b"c1,2026-11-20T10:00:00Z,u,cheap,m,0.1,5,a\xffb\n")
    ingest(store, [str(tmp_path / "u.csv")])
    assert _reasons(store)[("u.csv", 2)] == ["language: invalid UTF-8"]


def test_a_request_cost_below_its_calls_is_quarantined(store: Store, tmp_path: Path) -> None:
    calls = [
        {"model": "m", "route": "cheap", "cost_usd": 0.002},
        {"model": "big", "route": "frontier", "cost_usd": 0.010},
    ]
    records = [
        {"request_id": "low", "ts": "2026-11-20T10:00:00Z", **R, "cost_usd": 0.010, "escalated": True, "calls": calls},
        {"request_id": "equal", "ts": "2026-11-20T10:00:00Z", **R, "cost_usd": 0.012, "calls": calls},
        {"request_id": "more", "ts": "2026-11-20T10:00:00Z", **R, "cost_usd": 0.015, "calls": calls},  # unlisted spend
        {"request_id": "rounded", "ts": "2026-11-20T10:00:00Z", **R, "cost_usd": 0.003,
         "calls": [{"cost_usd": 0.0015000004}, {"cost_usd": 0.0015000004}]},
    ]  # fmt: skip
    report = ingest(store, [str(write_lines(tmp_path / "c.jsonl", [json.dumps(r) for r in records]))])
    assert (report.total("loaded"), report.total("quarantined")) == (3, 1)
    assert _reasons(store)[("c.jsonl", 1)] == [
        "cost_usd: 0.01 is below the sum of its calls' cost_usd, 0.012 (the request's spend covers every call)"
    ]
    assert sorted(r[0] for r in store.query_rows("SELECT request_id FROM requests FINAL")) == [
        "equal",
        "more",
        "rounded",
    ]


def test_an_unknown_shadow_price_is_unpriced_not_zero(store: Store, tmp_path: Path) -> None:
    records = [
        {"request_id": "s1", "ts": "2026-11-20T10:00:00Z", **R, "shadow_route": "frontier"},  # frontier served nothing
        {"request_id": "s2", "ts": "2026-11-20T10:00:00Z", **R, "shadow_route": "cheap"},
    ]
    ingest(store, [str(write_lines(tmp_path / "s.jsonl", [json.dumps(r) for r in records]))])
    for exact in (False, True):
        row = compute(store, "shadow_divergence", exact=exact).iloc[0]
        assert (row["compared"], row["diverged"], row["unpriced"]) == (2, 1, 1)
        assert pd.isna(row["shadow_cost_delta_usd"]), exact  # not a false saving of -0.001
    served = {"request_id": "s3", "ts": "2026-11-20T11:00:00Z", **R, "route": "frontier", "cost_usd": 0.004}
    mixed = {"request_id": "s4", "ts": "2026-11-20T11:00:00Z", **R, "route": "mid", "shadow_route": "nowhere"}
    ingest(store, [str(write_lines(tmp_path / "t.jsonl", [json.dumps(served), json.dumps(mixed)]))])
    for exact in (False, True):
        row = compute(store, "shadow_divergence", exact=exact).iloc[0]
        assert (row["diverged"], row["unpriced"]) == (2, 1)
        assert row["shadow_cost_delta_usd"] == Decimal("0.003")  # s1 priced at frontier's 0.004; s4 left out


def test_money_is_summed_as_decimals_and_printed_exactly(store: Store, tmp_path: Path) -> None:
    costs = [0.1, 0.2, *[0.001615] * 8]
    records = [{"request_id": f"m{i}", "ts": "2026-11-20T10:00:00Z", **R, "cost_usd": c} for i, c in enumerate(costs)]
    ingest(store, [str(write_lines(tmp_path / "m.jsonl", [json.dumps(r) for r in records]))])
    assert sum(costs) != 0.31292  # what summing floats gives
    for name in ("spend_concentration", "volume", "cost_per_resolved"):
        frame = compute(store, name)
        assert Decimal(str(frame["cost_usd"].iloc[0])) == Decimal("0.31292"), name
        printed = run_cli("metrics", name, "--format", "json", store=store)
        assert '"cost_usd": 0.31292' in printed.stdout, printed.stdout
        csv = run_cli("metrics", name, "--format", "csv", store=store)
        assert pd.read_csv(io.StringIO(csv.stdout), dtype=str)["cost_usd"].tolist() == ["0.31292"]
    assert compute(store, "spend_concentration")["top_1pct_cost_usd"].iloc[0] == Decimal("0.2")


def test_an_empty_window_answers_no_rows_on_both_paths(store: Store, tmp_path: Path) -> None:
    records = [{"request_id": f"e{i}", "ts": "2026-11-20T10:00:00Z", **R, "language": "en"} for i in range(3)]
    ingest(store, [str(write_lines(tmp_path / "e.jsonl", [json.dumps(r) for r in records]))])
    windows = [
        {},
        {"since": pd.Timestamp("2026-11-01T00:00Z"), "until": pd.Timestamp("2026-11-30T00:00Z")},  # whole days
        {"since": pd.Timestamp("2026-11-01T06:00Z"), "until": pd.Timestamp("2026-11-30T06:00Z")},  # the rows
    ]
    for metric in METRICS:
        for window in windows:
            for exact in (False, True):
                assert compute(store, metric.name, where={"language": "xx"}, exact=exact, **window).empty, metric.name
                quiet = {"since": pd.Timestamp("2026-10-01T00:00Z"), "until": pd.Timestamp("2026-10-02T06:00Z")}
                assert compute(store, metric.name, exact=exact, **quiet).empty, metric.name
    for window in (["--since", "2026-11-01", "--until", "2026-11-30"], ["--since", "2026-11-01T06:00Z"]):
        result = run_cli(
            "metrics", "escalation_rate", "--where", "language=xx", "--format", "json", *window, store=store
        )
        assert json.loads(result.stdout) == [], window


def test_messages_show_the_value_as_given(store: Store, tmp_path: Path) -> None:
    lines = [
        json.dumps({"request_id": "big", "ts": "2026-11-20T10:00:00Z", **R, "cost_usd": 1000001}),
        json.dumps({"request_id": "tiny", "ts": "2026-11-20T10:00:00Z", **R, "latency_ms": -0.0000001}),
        '{"request_id":"tokens","ts":"2026-11-20T10:00:00Z","user_id":"u","route":"r","model":"m","cost_usd":0.1,'
        '"latency_ms":1,"input_tokens":12345678901234567890}',
    ]
    write_lines(tmp_path / "m.jsonl", lines)
    (tmp_path / "semicolon.csv").write_text(
        "request_id;ts;user_id;route;model;cost_usd;latency_ms\n"
        "x1;2026-11-20T10:00:00Z;u;cheap;m;0,001;100\n"
        "x2;2026-11-20T10:00:00Z;u;cheap;m;1;100\n",
        encoding="utf-8",
    )
    ingest(store, [str(tmp_path / "m.jsonl"), str(tmp_path / "semicolon.csv")])
    reasons = _reasons(store)
    assert reasons[("m.jsonl", 1)] == ["cost_usd: 1000001 is outside [0, 1000000]"]
    assert reasons[("m.jsonl", 2)] == ["latency_ms: -0.0000001 is outside [0, 86400000]"]
    assert reasons[("m.jsonl", 3)] == ["input_tokens: 12345678901234567890 is too large (at most 999999999999999)"]
    missing = "the header lacks the required fields request_id, ts, user_id, route, model, cost_usd, latency_ms"
    hint = f"{missing}: it reads as one field (the delimiter looks like ';'; routewatch reads comma-separated CSV)"
    assert reasons[("semicolon.csv", 2)] == [hint]
    assert reasons[("semicolon.csv", 3)] == [hint]


def test_reasons_name_the_field_and_the_real_problem(store: Store, tmp_path: Path) -> None:
    """Trial findings 10 and 11: an epoch out of range as given, a number too large for a double by its key, a
    thumb that is not a number says what a thumb takes (request row and feedback event alike)."""
    lines = [
        json.dumps({"request_id": "epoch", **R}).replace("{", '{"ts":17951688000,', 1),
        json.dumps({"request_id": "big", "ts": "2026-11-20T10:00:00Z", **R}).replace(
            "}", ',"segments":{"plan":1e400}}'
        ),
        json.dumps({"request_id": "up", "ts": "2026-11-20T10:00:00Z", **R, "thumb": "up"}),
    ]
    events = [
        {"request_id": "up", "ts": "2026-11-20T11:00:00Z", "kind": "thumb", "value": "up"},
        {"request_id": "up", "ts": "2026-11-20T11:00:00Z", "kind": "csat", "value": "good"},
    ]
    ingest(store, [str(write_lines(tmp_path / "r.jsonl", lines))])
    ingest(store, [str(write_lines(tmp_path / "f.jsonl", [json.dumps(e) for e in events]))])
    reasons = _reasons(store)
    assert reasons[("r.jsonl", 1)] == ["ts: 17951688000 is before 2000 or in the future"]
    assert reasons[("r.jsonl", 2)] == ["plan: 1e400 is too large for a number (at most about 1.8e308)"]
    assert reasons[("r.jsonl", 3)] == ["thumb: expected a whole number, got up (a thumb takes one of [-1, 1])"]
    assert reasons[("f.jsonl", 1)] == ["value: expected a whole number, got up (a thumb event takes one of [-1, 1])"]
    assert reasons[("f.jsonl", 2)] == [
        "value: expected a whole number, got good (a csat event takes a whole number in [1, 5])"
    ]


def test_control_characters_in_dimension_text_are_quarantined(store: Store, tmp_path: Path) -> None:
    """Trial finding 14: a NUL (or a tab, a line break, any C0/C1 control) in a dimension's text is quarantined
    with the field named, in JSONL, CSV and Parquet alike."""
    bad = {
        "nul": {"segments": {"k": "a\u0000b"}},
        "tab": {"language": "en\tgb"},
        "newline": {"model": "m\nx"},
        "c1": {"route": "cheap\u0085"},
        "del": {"channel": "api\u007f"},
    }
    records = [{"request_id": name, "ts": "2026-11-20T10:00:00Z", **R, **extra} for name, extra in bad.items()]
    records.append({"request_id": "fine", "ts": "2026-11-20T10:00:00Z", **R, "segments": {"k": "a b é"}})
    write_lines(tmp_path / "c.jsonl", [json.dumps(r) for r in records])
    flat = [{k: v for k, v in r.items() if k != "segments"} | {"segments.k": r.get("segments", {}).get("k")}
            for r in records]  # fmt: skip
    pd.DataFrame(flat).assign(request_id=lambda f: "csv-" + f["request_id"]).to_csv(tmp_path / "c.csv", index=False)
    table = pd.DataFrame(flat).drop(columns="segments.k").assign(request_id=lambda f: "pq-" + f["request_id"])
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), tmp_path / "c.parquet")
    report = ingest(store, [str(tmp_path / n) for n in ("c.jsonl", "c.csv", "c.parquet")])
    assert [(f.loaded, f.quarantined) for f in report.files] == [(1, 5), (1, 5), (2, 4)]  # Parquet: no segments
    reasons = _reasons(store)
    fields = {"nul": "segments.k", "tab": "language", "newline": "model", "c1": "route", "del": "channel"}
    for line, field in enumerate(fields.values(), start=1):
        assert any(r.startswith(f"{field}: ") and "holds a control character" in r for r in reasons[("c.jsonl", line)])
    for file, named in (("c.csv", set(fields.values())), ("c.parquet", set(fields.values()) - {"segments.k"})):
        found = {r.split(": ")[0] for (f, _), rs in reasons.items() if f == file for r in rs}
        assert found == named, file
    assert reasons[("c.jsonl", 1)] == [
        'segments.k: "a\\u0000b" holds a control character (a tab, line break, NUL, ...)'
    ]
    assert (
        store.query_rows("SELECT count() FROM requests FINAL WHERE request_id IN ('fine', 'csv-fine', 'pq-fine')")[0][0]
        == 3
    )


def test_a_rerun_counts_quarantined_rows_once(store: Store, tmp_path: Path) -> None:
    """Trial finding 12: a file loaded again is skipped, and its rows (quarantined ones included) are duplicates:
    summing every run's report counts each bad row once."""
    lines = [json.dumps({"request_id": f"g{i}", "ts": "2026-11-20T10:00:00Z", **R}) for i in range(3)]
    lines += [json.dumps({"request_id": f"b{i}", "ts": "2026-11-20T25:00:00Z", **R}) for i in range(2)]
    path = str(write_lines(tmp_path / "rerun.jsonl", lines))
    first, second = ingest(store, [path]).as_json(), ingest(store, [path]).as_json()
    counts = ("read", "loaded", "quarantined", "duplicates", "already_quarantined")
    assert [first[k] for k in counts] == [5, 3, 2, 0, 0]
    assert [second[k] for k in counts] == [5, 0, 0, 5, 2]
    assert second["files"][0]["skipped"]
    assert store.query_rows("SELECT count() FROM quarantine FINAL")[0][0] == 2
    printed = run_cli("ingest", path, store=store)
    assert "already loaded, skipped: read 5 = duplicates 5 (2 of them quarantined before; rerun changes nothing)" in (
        printed.stderr
    )
    summary = json.loads(run_cli("ingest", path, "--json", store=store).stdout)
    assert [summary[k] for k in counts] == [5, 0, 0, 5, 2]


def test_a_file_read_again_after_an_interrupted_run_counts_its_bad_rows_once(store: Store, tmp_path: Path) -> None:
    """A file read again (its earlier run interrupted, so not skipped) counts the rows that run quarantined as
    duplicates, not as quarantined again."""
    lines = [json.dumps({"request_id": "g", "ts": "2026-11-20T10:00:00Z", **R})]
    lines += [json.dumps({"request_id": f"b{i}", "ts": "2026-11-20T25:00:00Z", **R}) for i in range(2)]
    path = str(write_lines(tmp_path / "again.jsonl", lines))
    ingest(store, [path])
    store.command("ALTER TABLE ingest_batches DELETE WHERE status = 'done'", settings={"mutations_sync": 2})
    again = ingest(store, [path]).as_json()
    counts = ("read", "loaded", "quarantined", "duplicates", "already_quarantined")
    assert [again[k] for k in counts] == [3, 0, 0, 3, 2]


def test_csv_output_never_opens_as_a_formula(store: Store, tmp_path: Path) -> None:
    # (A dimension value never holds a tab or a carriage return: those are quarantined as control characters; the
    # guard for text that starts with one is checked on a frame below.)
    risky = ['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "plain"]
    records = [
        {"request_id": f"c{i}", "ts": "2026-11-20T10:00:00Z", **R, "segments": {"plan": value}}
        for i, value in enumerate(risky)
    ]
    ingest(store, [str(write_lines(tmp_path / "c.jsonl", [json.dumps(r) for r in records]))])
    csv = run_cli("metrics", "volume", "--by", "segments.plan", "--format", "csv", store=store)
    cells = pd.read_csv(io.StringIO(csv.stdout), dtype=str, keep_default_na=False)["segments.plan"].tolist()
    assert sorted(cells) == sorted("'" + v if v != "plain" else v for v in risky)
    as_json = json.loads(run_cli("metrics", "volume", "--by", "segments.plan", "--format", "json", store=store).stdout)
    assert sorted(row["segments.plan"] for row in as_json) == sorted(risky)  # JSON unchanged
    numbers = pd.DataFrame({"name": ["=1+1"], "delta": [-0.5], "count": [-3], "money": [Decimal("-0.250")]})
    out = io.StringIO()
    output.write(numbers, "csv", out)
    assert out.getvalue().splitlines()[1] == "'=1+1,-0.5,-3,-0.25"  # numbers stay numbers
    assert output.csv_text(numbers) == out.getvalue()  # the dashboard's downloads
    controls = output.csv_safe(pd.DataFrame({"note": ["\tx", "\rx"]}))["note"].tolist()
    assert controls == ["'\tx", "'\rx"]


def test_every_ratio_has_its_numerator_and_denominator_in_its_row(synthetic_store: tuple[Store, pd.DataFrame]) -> None:
    store, frame = synthetic_store
    frame = frame.assign(all_in=frame["cost_usd"] + frame["router_cost_usd"] + frame["human_cost_usd"])
    expected = frame.groupby("route").agg(
        requests=("request_id", "size"), model_cost_usd=("cost_usd", "sum"), cost_usd=("all_in", "sum")
    )
    for exact in (False, True):
        cost = compute(store, "cost_per_resolved", by=["route"], exact=exact).set_index("route")
        as_float = cost.astype({"cost_usd": float, "model_cost_usd": float})
        for column in ("model_cost_usd", "cost_usd"):
            got, want = as_float[column].to_dict(), expected[column].to_dict()
            assert got.keys() == want.keys() and all(abs(got[k] - want[k]) < 1e-9 for k in got), column
        ratios = {
            "cost_per_request": ("model_cost_usd", "requests"),
            "all_in_cost_per_request": ("cost_usd", "requests"),
            "cost_per_resolved": ("cost_usd", "resolved"),
        }
        for ratio, (top, bottom) in ratios.items():
            pd.testing.assert_series_equal(as_float[ratio], as_float[top] / as_float[bottom], check_names=False)
        csat = compute(store, "csat", by=["route"], exact=exact)
        pd.testing.assert_series_equal(
            csat["mean_csat"], (csat["csat_total"] / csat["rated"]).astype(float), check_names=False
        )
    assert (cost["all_in_cost_per_request"] > cost["cost_per_request"]).all()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.mark.parametrize(
    ("command", "stop"),
    [("dashboard", signal.SIGTERM), ("dashboard", signal.SIGINT), ("demo", signal.SIGTERM)],
    ids=["dashboard-SIGTERM", "dashboard-SIGINT", "demo-SIGTERM"],
)
def test_a_signal_stops_the_dashboard_server_and_frees_its_port(
    store: Store, tmp_path: Path, command: str, stop: signal.Signals
) -> None:
    port = free_port()
    extra = (
        ["--rows", "2000", "--port", str(port)]
        if command == "demo"
        else ["--port", str(port), "--address", "127.0.0.1"]
    )
    log = (tmp_path / "server.log").open("wb")
    parent = subprocess.Popen(
        [sys.executable, "-m", "cli", command, *extra],
        cwd=ROOT,
        env={**os.environ, "ROUTEWATCH_STORE": store.dsn},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a signal to the parent alone, as a service manager sends it
    )
    try:
        wait_until_serving(f"http://localhost:{port}", parent, tmp_path / "server.log", 240)
        servers = _children(parent.pid)
        assert servers, "the dashboard runs its server as a child process"
        parent.send_signal(stop)
        assert parent.wait(timeout=60) == 0
        assert not any(_alive(pid) for pid in servers), "the server outlived its parent"
        assert _port_free(port)
    finally:
        if parent.poll() is None:
            os.killpg(parent.pid, signal.SIGKILL)
            parent.wait()
        log.close()
    again = Store(store.dsn, lock_timeout_s=5)  # the store is released: another writer gets it at once
    assert again.query_rows("SELECT 1")[0][0] == 1


def test_the_dashboard_compares_segments_of_any_key(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    records = [
        {**good_record(f"d{i}", user_id=f"u{i % 20}", escalated=i % 3 == 0), "segments": {"भाषा": ["hi", "en"][i % 2]}}
        for i in range(60)
    ]
    ingest(store, [str(write_lines(tmp_path / "d.jsonl", [json.dumps(r, ensure_ascii=False) for r in records]))])
    monkeypatch.setenv("ROUTEWATCH_STORE", store.dsn)
    st.cache_data.clear()
    st.cache_resource.clear()
    try:
        at = AppTest.from_file(str(ROOT / "app" / "streamlit_app.py"), default_timeout=180)
        at.switch_page("app_pages/segments.py").run()
        chooser = at.multiselect(key="segments_dims")
        assert "भाषा" in chooser.options  # the key as a person reads it; the chosen value stays segments.<key>
        chooser.set_value(["segments.भाषा"]).run()
        assert not at.exception and not [e for e in at.error if "Second-class" not in e.value], at.error
        # The table in words names each compared segment as "<dimension> = <value>".
        segments = pd.concat([table.value for table in at.table])["Segment"]
        assert set(segments) & {"segments.भाषा = hi", "segments.भाषा = en"}, list(segments)
    finally:
        st.cache_data.clear()
        st.cache_resource.clear()

"""The ingest job against the real engine: exact counts, quarantine reasons, idempotence, updates, formats."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli.progress import file_progress
from ingest.load import ingest
from ingest.readers import Source
from metrics.registry import compute
from routewatch.store import Store
from tests.conftest import cli_json, good_record, run_cli, write_lines

BAD_LINES: list[tuple[str | bytes, str]] = [
    ('{"request_id": "m1", "ts": ', "malformed JSON"),
    (json.dumps({k: v for k, v in good_record("m2").items() if k != "user_id"}), "user_id: required"),
    (json.dumps(good_record("m3", latency_ms="fast")), "latency_ms: expected a number"),
    (json.dumps(good_record("m4", cost_usd=-0.5)), "cost_usd: -0.5 is outside"),
    (json.dumps(good_record("m5", ts="2026-02-30T00:00:00Z")), "day 30 is out of range (February 2026 has 28 days)"),
    (json.dumps(good_record("m6", ts="1995-01-01T00:00:00Z")), "is before 2000 or in the future"),
    (json.dumps(good_record("m7", ts="2026-10-01T12:00:00")), "has no UTC offset"),
    ('{"request_id": "m8", "user_id": "\xff"}'.encode("latin-1"), "invalid UTF-8"),
    ("[1, 2, 3]", "expected a JSON object, got array"),
    (json.dumps(good_record("m10", csat=7)), "csat: 7 is outside [1, 5]"),
    (json.dumps(good_record("m11", thumb=0)), "thumb: 0 is not one of [-1, 1]"),
    (json.dumps(good_record("m12", escalated="maybe")), "escalated: expected true/false or 0/1"),
    (json.dumps(good_record("m13", status="exploded")), "status: 'exploded' is not one of"),
    (json.dumps(good_record("m14", calls=[{"model": "a", "cost_usd": -1}])), "calls.cost_usd: -1 is outside"),
    (json.dumps(good_record("m15", segments="native")), "segments: expected an object of strings"),
    (json.dumps(good_record("")), "request_id: must not be empty"),
]


def _mixed_file(path: Path) -> Path:
    lines: list[str | bytes] = [json.dumps(good_record("ok-1"))]
    lines += [line for line, _ in BAD_LINES]
    lines += [
        "",
        "   ",
        json.dumps(good_record("ok-2", ts=1_790_000_000)),
        json.dumps(good_record("ok-3", ts=1_790_000_000_000)),
    ]
    return write_lines(path, lines)


def test_bad_rows_of_every_kind_are_quarantined_with_their_reasons(store: Store, tmp_path: Path) -> None:
    report = ingest(store, [str(_mixed_file(tmp_path / "mixed.jsonl"))])
    assert (report.total("read"), report.total("loaded")) == (3 + len(BAD_LINES), 3)
    assert (report.total("quarantined"), report.total("duplicates")) == (len(BAD_LINES), 0)
    quarantine = store.query_df("SELECT source_line, reasons, raw FROM quarantine FINAL ORDER BY source_line")
    assert quarantine["source_line"].tolist() == list(range(2, 2 + len(BAD_LINES)))
    for (line, expected), reasons, raw in zip(BAD_LINES, quarantine["reasons"], quarantine["raw"], strict=True):
        assert any(expected in reason for reason in reasons), (expected, list(reasons))
        if isinstance(line, str) and line:
            assert raw == line  # the raw text is kept as it was
    invalid = BAD_LINES[7][0]
    assert isinstance(invalid, bytes)
    kept = store.query_rows("SELECT hex(raw) FROM quarantine FINAL WHERE source_line = 9")[0][0]
    assert bytes.fromhex(kept) == invalid  # invalid bytes are kept byte for byte
    loaded = store.query_df("SELECT request_id, toUnixTimestamp(ts) AS epoch FROM requests FINAL ORDER BY request_id")
    assert loaded["request_id"].tolist() == ["ok-1", "ok-2", "ok-3"]
    assert loaded["epoch"].tolist()[1:] == [1_790_000_000, 1_790_000_000]  # epoch seconds and milliseconds


def test_a_wrong_type_is_reported_once_not_again_as_missing(store: Store, tmp_path: Path) -> None:
    ingest(store, [str(write_lines(tmp_path / "one.jsonl", [json.dumps(good_record("x", latency_ms="slow"))]))])
    reasons = store.query_rows("SELECT reasons FROM quarantine FINAL")[0][0]
    assert reasons == ["latency_ms: expected a number, got slow"]


def test_loading_the_same_file_twice_changes_nothing(store: Store, synthetic_file: Path) -> None:
    first = ingest(store, [str(synthetic_file)])
    before = store.query_rows("SELECT count(), sum(cost_usd), sum(sign) FROM requests")
    second = ingest(store, [str(synthetic_file)])
    assert first.total("loaded") == 5_000
    assert second.files[0].skipped and second.total("duplicates") == 5_000 and second.total("loaded") == 0
    assert store.query_rows("SELECT count(), sum(cost_usd), sum(sign) FROM requests") == before


def test_the_same_rows_in_another_file_are_counted_as_duplicates(
    store: Store, synthetic_file: Path, tmp_path: Path
) -> None:
    ingest(store, [str(synthetic_file)])
    lines = synthetic_file.read_bytes().splitlines()
    copy = write_lines(tmp_path / "copy.jsonl", [*lines[:100], json.dumps(good_record("brand-new")).encode()])
    report = ingest(store, [str(copy)])
    assert (report.total("read"), report.total("loaded"), report.total("duplicates")) == (101, 1, 100)
    assert store.query_rows("SELECT count() FROM requests FINAL")[0][0] == 5_001


def test_updates_replace_the_old_version_and_rollups_never_count_twice(store: Store, tmp_path: Path) -> None:
    first = [good_record(f"r{i}", cost_usd=0.01, route="cheap") for i in range(50)]
    ingest(store, [str(write_lines(tmp_path / "v1.jsonl", [json.dumps(r) for r in first]))])
    changed = [good_record(f"r{i}", cost_usd=0.02, route="frontier", resolved=True) for i in range(20)]
    report = ingest(store, [str(write_lines(tmp_path / "v2.jsonl", [json.dumps(r) for r in changed]))])
    assert (report.total("loaded"), report.total("updated"), report.total("duplicates")) == (20, 20, 0)
    live = store.query_df(
        "SELECT route, count() AS n, sum(cost_usd) AS cost FROM requests FINAL GROUP BY route ORDER BY route"
    )
    assert live.set_index("route")["n"].to_dict() == {"cheap": 30, "frontier": 20}
    rollup = store.query_df(
        "SELECT route, sum(requests) AS n, sum(cost_total) AS cost FROM rollup_daily"
        " GROUP BY route HAVING n != 0 ORDER BY route"
    )
    assert rollup["n"].tolist() == live["n"].tolist()
    assert rollup["cost"].tolist() == live["cost"].tolist() == [Decimal("0.3"), Decimal("0.4")]
    resolved = store.query_rows("SELECT sum(resolved_n) FROM rollup_daily")[0][0]
    assert resolved == 20


def test_repeats_inside_one_file_last_line_wins(store: Store, tmp_path: Path) -> None:
    lines = [
        json.dumps(good_record("a", cost_usd=0.1)),
        json.dumps(good_record("a", cost_usd=0.1)),  # exact repeat
        json.dumps(good_record("a", cost_usd=0.3)),  # a newer version of the same request
        json.dumps(good_record("b")),
    ]
    report = ingest(store, [str(write_lines(tmp_path / "repeats.jsonl", lines))])
    assert (report.total("read"), report.total("loaded"), report.total("duplicates")) == (4, 3, 1)
    assert store.query_rows("SELECT request_id, cost_usd FROM requests FINAL ORDER BY request_id") == [
        ("a", Decimal("0.3")),
        ("b", Decimal("0.001")),
    ]


def test_repeats_across_chunks_are_decided_in_order(store: Store, tmp_path: Path) -> None:
    lines = [json.dumps(good_record(f"id{i % 7}", cost_usd=0.001 * i)) for i in range(40)]
    report = ingest(store, [str(write_lines(tmp_path / "spread.jsonl", lines))], chunk_rows=6)
    assert report.total("read") == 40
    assert store.query_rows("SELECT count(), sum(sign) FROM requests FINAL")[0] == (7, 7)
    newest = store.query_rows("SELECT cost_usd FROM requests FINAL WHERE request_id = 'id0'")[0][0]
    assert newest == Decimal("0.035")
    assert store.query_rows("SELECT sum(requests) FROM rollup_daily")[0][0] == 7


@pytest.mark.parametrize("gzipped", [False, True])
def test_line_numbers_are_physical_lines_across_chunks(store: Store, tmp_path: Path, gzipped: bool) -> None:
    # Windows line ends, blank lines and bad lines spread over chunks of 4 lines, and no newline at the end.
    lines = [json.dumps(good_record(f"ok{i}")) for i in range(12)]
    lines[2] = lines[5] = "   "
    lines[3], lines[8], lines[11] = "{broken", json.dumps(good_record("neg", cost_usd=-1)), "[1]"
    text = "\r\n".join(lines).encode()
    path = tmp_path / ("crlf.jsonl.gz" if gzipped else "crlf.jsonl")
    path.write_bytes(gzip.compress(text) if gzipped else text)
    report = ingest(store, [str(path)], chunk_rows=4)
    assert (report.total("read"), report.total("loaded"), report.total("quarantined")) == (10, 7, 3)
    rows = store.query_rows("SELECT source_line, raw, reasons FROM quarantine FINAL ORDER BY source_line")
    assert [row[:2] for row in rows] == [(4, "{broken"), (9, lines[8]), (12, "[1]")]  # without the carriage return
    assert rows[2][2] == ["expected a JSON object, got array"]  # its elements are not read as fields
    assert store.query_rows("SELECT min(source_line), max(source_line) FROM requests FINAL")[0] == (1, 11)


def test_csv_parquet_and_gzip_load_the_same_requests(store: Store, tmp_path: Path) -> None:
    records = [
        good_record(f"f{i}", escalated=i % 2 == 0, csat=1 + i % 5, segments={"client": "sdk"}) for i in range(30)
    ]
    jsonl = write_lines(tmp_path / "a.jsonl", [json.dumps(r) for r in records])
    with gzip.open(tmp_path / "b.jsonl.gz", "wb") as out:
        out.write(jsonl.read_bytes())
    frame = pd.DataFrame(records)
    frame["segments.client"] = "sdk"
    frame.drop(columns="segments").to_csv(tmp_path / "c.csv", index=False)
    table = pa.Table.from_pylist(records)
    pq.write_table(table, tmp_path / "d.parquet")
    hashes = {}
    for name in ("a.jsonl", "b.jsonl.gz", "c.csv", "d.parquet"):
        other = Store(f"chdb://{tmp_path / ('store-' + name)}")
        report = ingest(other, [str(tmp_path / name)])
        assert (report.total("loaded"), report.total("quarantined")) == (30, 0), name
        hashes[name] = other.query_rows("SELECT groupArraySorted(100)(row_hash) FROM requests FINAL")[0][0]
    assert len({tuple(h) for h in hashes.values()}) == 1, "every format must give the same normalized rows"


def test_per_call_detail_lands_in_calls(store: Store, synthetic_file: Path) -> None:
    ingest(store, [str(synthetic_file)])
    frame = pd.read_json(synthetic_file, lines=True, precise_float=True)
    with_calls = frame.dropna(subset=["calls"])
    expected_cost = sum(c["cost_usd"] for calls in with_calls["calls"] for c in calls)
    count, cost = store.query_rows("SELECT count(), sum(cost_usd) FROM calls FINAL")[0]
    assert count == sum(len(calls) for calls in with_calls["calls"])
    assert abs(float(cost) - expected_cost) < 1e-6


def test_a_bad_csv_row_names_its_line(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "request_id,ts,user_id,route,model,cost_usd,latency_ms\n"
        "c1,2026-10-01T00:00:00Z,u,cheap,m,0.1,10\n"
        "c2,2026-10-01T00:00:00Z,u,cheap,m\n"
        "c3,2026-10-01T00:00:00Z,u,cheap,m,-3,10\n",
        encoding="utf-8",
    )
    report = ingest(store, [str(path)])
    assert (report.total("loaded"), report.total("quarantined")) == (1, 2)
    rows = store.query_rows("SELECT source_line, reasons, raw FROM quarantine FINAL ORDER BY source_line")
    assert rows[0][0] == 3 and rows[0][1] == ["row has 5 fields, the header has 7"]
    assert rows[0][2] == "c2,2026-10-01T00:00:00Z,u,cheap,m"
    assert rows[1][0] == 4 and "cost_usd: -3 is outside" in rows[1][1][0]


def test_feedback_events_load_on_their_own_and_the_newest_wins(store: Store, tmp_path: Path) -> None:
    events = [
        {"request_id": "r1", "ts": "2026-10-01T12:00:00Z", "kind": "thumb", "value": -1},
        {"request_id": "r1", "ts": "2026-10-02T12:00:00Z", "kind": "thumb", "value": 1},
        {"request_id": "r1", "ts": "2026-10-02T12:00:00Z", "kind": "csat", "value": 9},
        {"request_id": "r2", "ts": "2026-10-02T12:00:00Z", "kind": "mood", "value": 1},
    ]
    path = write_lines(tmp_path / "feedback.jsonl", [json.dumps(e) for e in events])
    report = ingest(store, [str(path)])
    assert report.files[0].format == "feedback"
    assert (report.total("loaded"), report.total("quarantined")) == (2, 2)
    newest = store.query_rows("SELECT argMax(value, ts) FROM feedback WHERE request_id = 'r1' AND kind = 'thumb'")
    assert newest[0][0] == 1
    again = ingest(store, [str(path)])
    assert again.total("loaded") == 0 and store.query_rows("SELECT count() FROM feedback FINAL")[0][0] == 2


def test_feedback_is_folded_into_the_requests_it_rates_in_any_order(store: Store, tmp_path: Path) -> None:
    def load(name: str, lines: list[dict[str, object]]) -> None:
        ingest(store, [str(write_lines(tmp_path / name, [json.dumps(x) for x in lines]))], chunk_rows=2)

    def event(request_id: str, day: int, kind: str, value: float) -> dict[str, object]:
        return {"request_id": request_id, "ts": f"2026-10-{day:02d}T12:00:00Z", "kind": kind, "value": value}

    # Feedback first: r1 and r2 have none of their requests yet, r9 never will.
    load("early.jsonl", [event("r1", 2, "thumb", -1), event("r2", 2, "resolved", 1), event("r9", 2, "csat", 4)])
    load("requests.jsonl", [good_record("r1", thumb=1), good_record("r2", resolved=False), good_record("r4")])
    # Newer events win, an older one arriving late does not; a ticket; then r2 changes route.
    late = [event("r1", 3, "thumb", 1), event("r1", 1, "thumb", -1), event("r2", 3, "ticket", 2)]
    load("late.jsonl", late)
    load("update.jsonl", [good_record("r2", resolved=False, route="frontier")])
    rows_before = store.query_rows("SELECT count() FROM requests")[0][0]
    load("late-again.jsonl", late)  # the same events again: no request changes, no new version
    assert store.query_rows("SELECT count() FROM requests")[0][0] == rows_before

    live = store.query_df("SELECT request_id, route, resolved, thumb, tickets FROM requests_live ORDER BY request_id")
    assert live["request_id"].tolist() == ["r1", "r2", "r4"]
    assert live["route"].tolist() == ["cheap", "frontier", "cheap"]
    assert live["thumb"].tolist()[0] == 1 and live["resolved"].tolist()[1] is True
    assert live["tickets"].tolist() == [0, 2, 0]
    sums = store.query_df(
        "SELECT route, sum(requests) AS n, sum(resolved_n) AS resolved, sum(thumbs_up) AS up,"
        " sum(thumbs_rated) AS rated FROM rollup_daily GROUP BY route HAVING n != 0 ORDER BY route"
    )
    assert sums.to_dict("list") == {
        "route": ["cheap", "frontier"], "n": [2, 1], "resolved": [0, 1], "up": [1, 0], "rated": [1, 0]
    }  # fmt: skip
    for name in ("resolution_rate", "thumbs_up_rate", "cost_per_resolved"):
        exact = compute(store, name, by=["route"], exact=True)
        pd.testing.assert_frame_equal(compute(store, name, by=["route"]), exact, check_dtype=False)


def test_ingest_json_summary_and_stdin(store: Store, synthetic_file: Path) -> None:
    data = b"".join(synthetic_file.read_bytes().splitlines(keepends=True)[:250])
    result = run_cli("ingest", "-", "--json", store=store, stdin=data)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert {k: summary[k] for k in ("read", "loaded", "quarantined", "duplicates")} == {
        "read": 250,
        "loaded": 250,
        "quarantined": 0,
        "duplicates": 0,
    }
    assert summary["files"][0]["file"] == "<stdin>"
    assert "read 250 = loaded 250" in result.stderr


def test_unreadable_input_fails_with_a_clear_message(store: Store, tmp_path: Path) -> None:
    missing = run_cli("ingest", str(tmp_path / "nope.jsonl"), store=store)
    assert missing.returncode == 1 and "nope.jsonl: no such file or directory" in missing.stderr
    (tmp_path / "broken.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    broken = run_cli("ingest", str(tmp_path / "broken.jsonl.gz"), store=store)
    assert broken.returncode == 1 and "broken.jsonl.gz" in broken.stderr and "Traceback" not in broken.stderr


def test_a_store_that_fails_gives_a_clear_error_without_the_password(tmp_path: Path) -> None:
    result = run_cli("ingest", str(tmp_path), "--store", "http://admin:s3cret@127.0.0.1:9/db")
    assert result.returncode == 1
    assert "s3cret" not in result.stderr and "Traceback" not in result.stderr
    assert "admin:***@127.0.0.1" in result.stderr


def test_directories_and_globs(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    for day in range(3):
        write_lines(folder / f"day{day}.jsonl", [json.dumps(good_record(f"d{day}-{i}")) for i in range(10)])
    report = ingest(store, [str(folder)])
    assert [Path(f.file).name for f in report.files] == ["day0.jsonl", "day1.jsonl", "day2.jsonl"]
    assert cli_json("sql", "SELECT count() AS n FROM requests FINAL", "--format", "json", store=store) == [{"n": 30}]
    assert ingest(store, [str(folder / "day*.jsonl")]).total("duplicates") == 30


@pytest.mark.parametrize("value", ["true", "1", "false", "0"])
def test_booleans_as_words_or_digits(store: Store, tmp_path: Path, value: str) -> None:
    line = json.dumps(good_record("b", escalated=value)).replace(f'"{value}"', value if value in "01" else f'"{value}"')
    ingest(store, [str(write_lines(tmp_path / "b.jsonl", [line]))])
    assert store.query_rows("SELECT escalated FROM requests FINAL")[0][0] is (value in ("true", "1"))


def test_a_byte_order_mark_is_not_part_of_the_first_field(store: Store, tmp_path: Path) -> None:
    csv = tmp_path / "excel.csv"
    csv.write_bytes(
        b"\xef\xbb\xbfrequest_id,ts,user_id,route,model,cost_usd,latency_ms\n"
        b"bom-csv,2026-10-01T00:00:00Z,u,cheap,m,0.1,5\n"
    )
    jsonl = write_lines(tmp_path / "bom.jsonl", [b"\xef\xbb\xbf" + json.dumps(good_record("bom-json")).encode()])
    report = ingest(store, [str(csv), str(jsonl)])
    assert (report.total("loaded"), report.total("quarantined")) == (2, 0)


def test_the_progress_bar_redraws_one_line_and_ends_it_when_the_file_is_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = Source(tmp_path / "t.jsonl", "t.jsonl", "jsonl", "0" * 64, 200)
    file_progress(source, 50, 1_000)
    assert capsys.readouterr().err == f"\r{'t.jsonl':40} [{'#' * 7:30}]  25%        1,000 rows"
    file_progress(source, 200, 4_000)
    assert capsys.readouterr().err.endswith(f"[{'#' * 30}] 100%        4,000 rows\n")

"""Ingest's chunk size and chunks in flight (issue 16): a smaller setting loads the same rows; a bad one is named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ingest.load import ingest
from routewatch.settings import SettingsError, load_settings
from routewatch.store import Store
from tests.conftest import ROOT, cli_json, good_record, run_cli, write_lines
from tests.test_ingest import BAD_LINES

COUNTS = ("read", "loaded", "updated", "quarantined", "duplicates")


def _traffic_with_bad_lines(synthetic_file: Path, path: Path) -> Path:
    """The synthetic traffic with every kind of bad line spread through it and a request sent again, changed."""
    lines: list[str | bytes] = list(synthetic_file.read_bytes().splitlines())
    for position, (bad, _) in enumerate(BAD_LINES):
        lines.insert(300 * position + 7, bad)
    first = json.loads(lines[0])
    lines.append(json.dumps({**first, "latency_ms": first["latency_ms"] + 1}))
    return write_lines(path, lines)


def _stored(store: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
    requests = store.query_df(
        "SELECT request_id, row_hash, source_line, cost_usd, sign FROM requests FINAL ORDER BY request_id"
    )
    quarantine = store.query_df("SELECT source_line, raw, reasons FROM quarantine FINAL ORDER BY source_line")
    return requests, quarantine.astype(str)


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_small_chunks_few_in_flight_load_the_same_rows_and_counts_as_the_default(
    tmp_path: Path, synthetic_file: Path
) -> None:
    path = _traffic_with_bad_lines(synthetic_file, tmp_path / "traffic.jsonl")
    default = Store(f"chdb://{tmp_path / 'default'}", lock_timeout_s=30)
    small = Store(f"chdb://{tmp_path / 'small'}", lock_timeout_s=30)
    by_default = ingest(default, [str(path)])
    assert small.query_rows("SELECT 1") == [(1,)]  # the engine moved to this store's path: the threads' baseline
    threads = _threads()
    in_small_chunks = ingest(small, [str(path)], chunk_rows=700, chunks_in_flight=2)
    # Eight chunks on the sessions of the two chunks in flight and the bookkeeping: each session opened leaves some of
    # the engine's threads behind, and a session per chunk grew this process by some 30 threads (these, by about 10).
    assert small.opened <= 2 + 1  # two chunks in flight, and the session of the baseline
    assert _threads() - threads < 20
    assert {name: by_default.total(name) for name in COUNTS} == {name: in_small_chunks.total(name) for name in COUNTS}
    assert by_default.total("quarantined") == len(BAD_LINES) and by_default.total("updated") == 1
    for expected, got in zip(_stored(default), _stored(small), strict=True):
        pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ROUTEWATCH_INGEST_CHUNK_ROWS", "lots", "cannot read 'lots' as a whole number"),
        ("ROUTEWATCH_INGEST_CHUNK_ROWS", "0", "must be a whole number of at least 1, not 0"),
        ("ROUTEWATCH_INGEST_CHUNKS_IN_FLIGHT", "-2", "must be a whole number of at least 1, not -2"),
    ],
)
def test_a_bad_setting_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=f"^{variable}: {message}$"):
        load_settings(config_path=tmp_path / "absent.toml")


def test_the_cli_takes_the_setting_from_its_options_and_the_environment(store: Store, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "few.jsonl", [json.dumps(good_record(f"r{n}")) for n in range(25)])
    summary = cli_json("ingest", str(path), "--json", "--chunk-rows", "10", "--chunks-in-flight", "1", store=store)
    assert summary["loaded"] == 25 and summary["read"] == 25
    bad = run_cli("ingest", str(path), store=store, env_extra={"ROUTEWATCH_INGEST_CHUNKS_IN_FLIGHT": "many"})
    assert bad.returncode == 1
    assert "ROUTEWATCH_INGEST_CHUNKS_IN_FLIGHT: cannot read 'many' as a whole number" in bad.stderr


def test_ingest_takes_arrow_memory_from_the_system_allocator_unless_the_environment_says(tmp_path: Path) -> None:
    """Arrow's own pool keeps what it frees; ingest moves Arrow to the system allocator, whose freed memory it hands
    back after each chunk (the peak it saves is measured in BENCHMARKS.md), unless ARROW_DEFAULT_MEMORY_POOL names a
    pool. In a fresh process each, as the CLI runs."""
    data = write_lines(tmp_path / "t.jsonl", [json.dumps(good_record("r1"))])
    script = (
        "import sys, pyarrow as pa; from ingest.load import ingest; from routewatch.store import Store; "
        "before = pa.default_memory_pool().backend_name; "
        "report = ingest(Store(sys.argv[1]), [sys.argv[2]]); "
        "print(before, pa.default_memory_pool().backend_name, report.total('loaded'))"
    )

    def pools(store: str, **environment: str) -> list[str]:
        env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"} | environment
        done = subprocess.run(
            [sys.executable, "-c", script, f"chdb://{tmp_path / store}", str(data)],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout.split()[-3:]

    before, after, loaded = pools("a")
    assert (after, loaded) == ("system", "1") and before != "system"
    assert pools("b", ARROW_DEFAULT_MEMORY_POOL=before)[:2] == [before, before]  # a pool the environment names stays

"""Crash safety and side-by-side use of one embedded store, with real processes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from ingest.load import Pending, ingest, replay_pending, state_dir
from ingest.readers import resolve
from ingest.synthetic import generate, write_jsonl
from routewatch.store import Store, StoreBusy
from tests.conftest import ROOT, good_record, run_cli, write_lines

pytestmark = pytest.mark.slow


def _ingest_process(store: Store, path: Path, chunk_rows: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ROUTEWATCH_STORE": store.dsn}
    command = [sys.executable, "-m", "cli", "ingest", str(path), "--chunk-rows", str(chunk_rows)]
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _truth(store: Store) -> tuple[int, Decimal, int, Decimal]:
    live = store.query_rows("SELECT count(), sum(cost_usd) FROM requests FINAL")[0]
    rollup = store.query_rows("SELECT sum(requests), sum(cost_total) FROM rollup_daily")[0]
    return int(live[0]), Decimal(live[1] or 0), int(rollup[0] or 0), Decimal(rollup[1] or 0)


def test_kill_9_at_any_point_then_rerun_leaves_exact_counts(tmp_path: Path) -> None:
    frame = generate(6_000, seed=11)
    path = write_jsonl(frame, tmp_path / "traffic.jsonl")
    expected_cost = Decimal(str(round(frame["cost_usd"].sum(), 9)))
    rng = random.Random(5)
    for attempt in range(4):
        store = Store(f"chdb://{tmp_path / f'store{attempt}'}")
        process = _ingest_process(store, path, chunk_rows=500)
        time.sleep(rng.uniform(3.0, 7.0))  # somewhere in the middle of the job (start-up takes about 3 s)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        rerun = run_cli("ingest", str(path), "--json", "--chunk-rows", "500", store=store)
        assert rerun.returncode == 0, rerun.stderr
        summary = json.loads(rerun.stdout)
        assert summary["read"] == 6_000 == summary["loaded"] + summary["duplicates"]
        live, live_cost, rolled, rolled_cost = _truth(store)
        assert (live, rolled) == (6_000, 6_000), f"attempt {attempt}: recovered {summary['recovered_chunks']}"
        assert live_cost == rolled_cost
        assert abs(live_cost - expected_cost) < Decimal("0.000001")


def test_a_pending_chunk_is_written_once_whether_or_not_it_had_landed(store: Store, tmp_path: Path) -> None:
    path = write_jsonl(generate(300, seed=3), tmp_path / "t.jsonl")
    source = resolve([str(path)])[0]
    ingest(store, [str(path)], chunk_rows=100)
    before = _truth(store)
    # A record left for a chunk that had landed: writing it again changes nothing.
    batch = store.query_rows("SELECT batch_id FROM ingest_batches FINAL LIMIT 1")[0][0]
    written = store.query_rows("SELECT min(version) FROM requests WHERE batch_id = {b:String}", {"b": batch})[0][0]
    Pending.of(source, chunk_rows=100, chunk=0, version=int(written), batch_id=batch).write(state_dir(store))
    assert replay_pending(store) == 1
    assert _truth(store) == before
    # A record for a chunk that never landed (a fresh store): it is written exactly once, rollups included.
    fresh = Store(f"chdb://{tmp_path / 'fresh'}")
    from routewatch.migrations import migrate

    migrate(fresh)
    Pending.of(source, chunk_rows=100, chunk=1, version=time.time_ns(), batch_id="b").write(state_dir(fresh))
    assert replay_pending(fresh) == 1
    assert _truth(fresh)[0] == 100 and _truth(fresh)[2] == 100
    assert replay_pending(fresh) == 0


def test_a_pending_feedback_chunk_is_folded_once_whether_or_not_it_had_landed(store: Store, tmp_path: Path) -> None:
    requests = [json.dumps(good_record(f"r{i}", resolved=False)) for i in range(6)]
    ingest(store, [str(write_lines(tmp_path / "requests.jsonl", requests))])
    events = [
        json.dumps({"request_id": f"r{i}", "ts": "2026-10-02T00:00:00Z", "kind": "resolved", "value": 1})
        for i in range(4)
    ]
    feedback = write_lines(tmp_path / "feedback.jsonl", events)
    source = resolve([str(feedback)])[0]

    def state() -> tuple[int, int, int]:
        rows = store.query_rows("SELECT count() FROM requests")[0][0]
        folded = store.query_rows("SELECT countIf(resolved) FROM requests FINAL")[0][0]
        return int(rows), int(folded), int(store.query_rows("SELECT sum(resolved_n) FROM rollup_daily")[0][0])

    # Never landed: replaying the record applies the events once, rollups included.
    Pending.of(source, chunk_rows=2, chunk=1, version=time.time_ns(), batch_id="fb").write(state_dir(store))
    assert replay_pending(store) == 1
    once = state()
    assert once[1:] == (2, 2) and once[0] == 6 + 2 * 2
    # Landed: replaying it again changes nothing.
    version = store.query_rows("SELECT max(version) FROM feedback")[0][0]
    Pending.of(source, chunk_rows=2, chunk=1, version=int(version), batch_id="fb").write(state_dir(store))
    assert replay_pending(store) == 1
    assert state() == once


def test_a_reader_in_another_process_succeeds_during_an_ingest(tmp_path: Path) -> None:
    store = Store(f"chdb://{tmp_path / 'store'}")
    path = write_jsonl(generate(40_000, seed=2), tmp_path / "big.jsonl")
    run_cli("ingest", str(write_jsonl(generate(50, seed=1), tmp_path / "small.jsonl")), store=store)
    process = _ingest_process(store, path, chunk_rows=2_000)
    try:
        time.sleep(4)
        assert process.poll() is None, "the ingest finished before the reader ran; make the file bigger"
        asked = time.monotonic()
        reader = run_cli("sql", "SELECT count() AS n FROM requests FINAL", "--format", "json", store=store)
        assert reader.returncode == 0, reader.stderr
        assert json.loads(reader.stdout)[0]["n"] >= 50
        assert process.poll() is None, "the reader should get its turn while the ingest is still running"
        assert time.monotonic() - asked < 15
    finally:
        _, errors = process.communicate(timeout=300)
    assert process.returncode == 0, errors.decode()
    assert _truth(store)[0] == 40_050


def test_a_store_held_too_long_gives_a_clear_busy_error(tmp_path: Path) -> None:
    store = Store(f"chdb://{tmp_path / 'store'}", lock_timeout_s=1)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from routewatch.store import Store; s = Store(sys.argv[1]);\n"
            "with s.session():\n    print('holding', flush=True); time.sleep(8)",
            store.dsn,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"holding"
        with pytest.raises(StoreBusy, match="stayed busy for 1 s"):
            store.query_rows("SELECT 1")
        busy = run_cli("sql", "SELECT 1", store=store, env_extra={"ROUTEWATCH_LOCK_TIMEOUT": "1"})
        assert busy.returncode == 1 and "stayed busy for 1 s" in busy.stderr and "Traceback" not in busy.stderr
    finally:
        holder.communicate(timeout=30)
    assert store.query_rows("SELECT 1") == [(1,)]


def test_a_lingering_reader_reuses_its_session_and_steps_aside_for_another_process(tmp_path: Path) -> None:
    run_cli(
        "ingest",
        str(write_jsonl(generate(50, seed=1), tmp_path / "small.jsonl")),
        store=Store(f"chdb://{tmp_path / 's'}"),
    )
    reader = Store(f"chdb://{tmp_path / 's'}", read_only=True, linger_s=60)
    try:
        assert reader.query_rows("SELECT count() FROM requests") == [(50,)]
        assert reader.query_rows("SELECT count() FROM requests") == [(50,)]
        assert reader.opened == 1  # the second question reused the idle session
        # The idle session holds the store; another process asks for it and gets it at once.
        asked = time.monotonic()
        writer = run_cli("ingest", str(write_jsonl(generate(30, seed=3), tmp_path / "more.jsonl")), store=reader)
        assert writer.returncode == 0, writer.stderr
        assert time.monotonic() - asked < 20
        assert reader.query_rows("SELECT count() FROM requests") == [(80,)]
        assert reader.opened == 2  # it had stepped aside, so it opened again
    finally:
        reader.close()
    assert Store(f"chdb://{tmp_path / 's'}", lock_timeout_s=1).query_rows("SELECT 1") == [(1,)]  # released


def test_reused_sessions_serve_every_thread_step_aside_and_close_when_the_block_ends(tmp_path: Path) -> None:
    dsn = f"chdb://{tmp_path / 's'}"
    store = Store(dsn)

    def work(n: int) -> int:
        with store.session():
            # A reused session still has its table: the rows of the units of work it served before.
            store.command("CREATE TEMPORARY TABLE IF NOT EXISTS t (n UInt64) ENGINE = Memory")
            store.command("INSERT INTO t VALUES ({n:UInt64})", {"n": n})
            time.sleep(0.05)
            return int(store.query_rows("SELECT count() FROM t")[0][0])

    with store.reusing_sessions(2):
        with ThreadPoolExecutor(max_workers=2) as pool:
            served = list(pool.map(work, range(12)))
        # Each session opened starts its count at 1 and counts on as it is reused, whichever thread takes it.
        assert store.opened <= 2 and served.count(1) == store.opened and max(served) >= 6
        # Idle sessions hold the store; another store (another process would do the same) gets it at once.
        asked = time.monotonic()
        assert Store(dsn, lock_timeout_s=10).query_rows("SELECT 2") == [(2,)]
        assert time.monotonic() - asked < 5
        opened = store.opened
        assert work(3) == 1 and store.opened == opened + 1  # a fresh session after stepping aside
    # The block's end closed its sessions and let go of the store (not only when someone waits for it).
    assert store._holders == 0 and not store._parked


def test_an_idle_session_on_one_path_makes_way_for_a_store_on_another(tmp_path: Path) -> None:
    # The engine runs one embedded store per process: a command's idle session must not lock the process to its path.
    first = Store(f"chdb://{tmp_path / 'first'}", linger_s=60)
    try:
        assert first.query_rows("SELECT 1") == [(1,)]
        assert Store(f"chdb://{tmp_path / 'second'}", lock_timeout_s=5).query_rows("SELECT 2") == [(2,)]
        assert first.query_rows("SELECT 3") == [(3,)] and first.opened == 2
    finally:
        first.close()


def test_a_session_whose_work_failed_is_closed_not_reused(tmp_path: Path) -> None:
    store = Store(f"chdb://{tmp_path / 's'}", linger_s=60)
    try:
        with pytest.raises(RuntimeError), store.session():
            store.command("CREATE TEMPORARY TABLE left_over (n UInt8) ENGINE = Memory")
            raise RuntimeError("the unit of work failed")
        with store.session():  # a fresh session: the failed one's temporary table is gone with it
            store.command("CREATE TEMPORARY TABLE left_over (n UInt8) ENGINE = Memory")
        assert store.opened == 2
        assert store.query_rows("SELECT 1") == [(1,)] and store.opened == 2  # a clean one is reused
    finally:
        store.close()


def test_a_lingering_reader_steps_aside_for_another_store_of_its_own_process(tmp_path: Path) -> None:
    dsn = f"chdb://{tmp_path / 's'}"
    reader = Store(dsn, read_only=True, linger_s=60)
    try:
        assert reader.query_rows("SELECT 1") == [(1,)]
        asked = time.monotonic()
        assert Store(dsn, lock_timeout_s=10).query_rows("SELECT 2") == [(2,)]
        assert time.monotonic() - asked < 5
    finally:
        reader.close()

"""The store: DSNs, secrets, read-only clients, migrations and their cluster rendering."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pytest

from routewatch.migrations import latest_version, migrate, plan, schema_version
from routewatch.store import Store, StoreError, redact
from tests.conftest import run_cli


def test_passwords_never_show() -> None:
    store = Store("https://reader:pa55word@ch.example.com:8443/analytics")
    assert store.display == "https://reader:***@ch.example.com:8443/analytics"
    assert (
        redact("failed for http://u:p@h:8123/db and https://a:b@c/d")
        == "failed for http://u:***@h:8123/db and https://a:***@c/d"
    )


def test_unsupported_or_relative_dsns_are_refused() -> None:
    with pytest.raises(StoreError, match="unsupported store"):
        Store("mysql://root:secret@localhost/db")
    with pytest.raises(StoreError, match="absolute path"):
        Store("chdb://relative/path")


def test_migrations_apply_in_order_once(store: Store) -> None:
    assert schema_version(store) == 0
    assert migrate(store) == [m.version for m, _ in plan()]
    assert migrate(store) == []
    assert schema_version(store) == latest_version()
    tables = {r[0] for r in store.query_rows("SELECT name FROM system.tables WHERE database = currentDatabase()")}
    assert {"requests", "request_keys", "calls", "feedback", "quarantine", "ingest_batches", "rollup_daily"} <= tables
    assert "rollup_hourly" not in tables  # dropped by migration 7: it answered no question


def test_upgrading_a_loaded_store_folds_its_feedback_and_rebuilds_the_rollup_exactly(store: Store) -> None:
    # A store as migration 5 left it: feedback joined at query time, the old rollup.
    migrate(store, until=5)
    store.command(
        "INSERT INTO requests (request_id, ts, user_id, route, final_route, model, cost_usd, router_cost_usd,"
        " latency_ms, ttft_ms, resolved, thumb, version, written_version, sign) VALUES"
        " ('a', '2026-10-01 10:00:00', 'u1', 'cheap', 'cheap', 'm', 0.002, 0.0001, 300, 90, false, NULL, 1, 1, 1),"
        " ('b', '2026-10-01 11:00:00', 'u2', 'cheap', 'strong', 'm', 0.010, 0.0001, 900, NULL, NULL, 1, 1, 1, 1),"
        " ('c', '2026-10-02 09:00:00', 'u1', 'strong', 'strong', 'm', 0.020, 0, 1200, 300, true, NULL, 1, 1, 1)"
    )
    store.command(
        "INSERT INTO feedback (request_id, ts, kind, value, version) VALUES"
        " ('a', '2026-10-03 00:00:00', 'resolved', 1, 2), ('b', '2026-10-03 00:00:00', 'thumb', -1, 2),"
        " ('b', '2026-10-04 00:00:00', 'ticket', 3, 3)"
    )
    assert migrate(store, until=6) == [6]
    live = "SELECT request_id, resolved, thumb, tickets FROM requests_live ORDER BY request_id"
    assert store.query_rows(live) == [("a", True, None, 0), ("b", None, -1, 3), ("c", True, None, 0)]

    def sums() -> list[tuple[object, ...]]:
        exact = store.query_rows(
            "SELECT count(), sum(cost_usd + router_cost_usd + human_cost_usd), countIf(resolved),"
            " countIf(isNotNull(resolved)), countIf(thumb = 1), countIf(isNotNull(thumb)), countIf(isNotNull(ttft_ms))"
            " FROM requests FINAL"
        )
        rolled = store.query_rows(
            "SELECT sum(requests), sum(cost_total + router_cost_total + human_cost_total), sum(resolved_n),"
            " sum(resolved_known), sum(thumbs_up), sum(thumbs_rated), arraySum(mapValues(sumMap(ttft_hist)))"
            " FROM rollup_daily"
        )
        assert rolled == exact
        return rolled

    before, rows = sums(), store.query_rows("SELECT count() FROM requests")
    # A crash before the migration was recorded: running its statements again changes nothing.
    for statement in next(group for migration, group in plan() if migration.version == 6):
        store.command(statement, {"fresh_version": 10**19} if "{fresh_version" in statement else None)
    assert sums() == before and store.query_rows("SELECT count() FROM requests") == rows


def test_cluster_rendering_builds_replicated_tables_under_distributed_ones() -> None:
    statements = [s for _, group in plan("prod") for s in group]
    text = "\n".join(statements)
    assert "CREATE TABLE IF NOT EXISTS requests_local ON CLUSTER `prod`" in text
    engine = "ReplicatedVersionedCollapsingMergeTree('/clickhouse/tables/{shard}/{database}/requests_local'"
    assert f"{engine}, '{{replica}}', sign, version)" in text
    assert "ENGINE = Distributed(`prod`, currentDatabase(), requests_local, cityHash64(user_id))" in text
    assert "ENGINE = Distributed(`prod`, currentDatabase(), request_keys_local, cityHash64(request_id))" in text
    views = [s for s in statements if "MATERIALIZED VIEW" in s]
    assert views and all("FROM requests_local" in v and "_local AS" in v for v in views)
    assert "non_replicated_deduplication_window" not in text
    # A table change reaches the local tables and the Distributed ones; a data step runs once.
    assert "ALTER TABLE requests_local ON CLUSTER `prod` ADD COLUMN" in text
    assert "ALTER TABLE requests ON CLUSTER `prod` ADD COLUMN" in text
    assert "DROP TABLE IF EXISTS rollup_daily_local ON CLUSTER `prod`" in text
    assert "DROP VIEW IF EXISTS rollup_daily_mv ON CLUSTER `prod`" in text
    assert "DROP TABLE IF EXISTS rollup_hourly_local ON CLUSTER `prod`" in text
    assert "DROP TABLE IF EXISTS rollup_hourly ON CLUSTER `prod`" in text
    # Stored data is rewritten where it is stored: the local tables only.
    assert "ALTER TABLE requests_local ON CLUSTER `prod` MATERIALIZE COLUMN user_key" in text
    assert "ALTER TABLE requests ON CLUSTER `prod` MATERIALIZE" not in text
    backfill = [s for s in statements if "INSERT INTO rollup_daily\nSELECT" in s]
    assert len(backfill) == 2  # 006 and 011 rebuild the daily rollup
    assert all("ON CLUSTER" not in b and "FROM requests" in b and "requests_local" not in b for b in backfill)
    assert "ALTER TABLE requests_local ON CLUSTER `prod` MODIFY COLUMN cost_usd Nullable" in text
    with pytest.raises(ValueError, match="invalid cluster name"):
        plan("prod; DROP TABLE x")


def test_the_read_only_client_refuses_writes(store: Store) -> None:
    migrate(store)
    result = run_cli("sql", "INSERT INTO quarantine (file_hash) VALUES ('x')", store=store)
    assert result.returncode == 1 and "readonly" in result.stderr.lower()
    assert store.query_rows("SELECT count() FROM quarantine")[0][0] == 0
    assert Store(store.dsn, read_only=True).query_rows("SELECT 1") == [(1,)]


def test_doctor_reports_the_store_and_versions(store: Store) -> None:
    migrate(store)
    result = run_cli("doctor", "--format", "json", store=store)
    assert result.returncode == 0, result.stderr
    checks = {row["check"]: row["value"] for row in __import__("json").loads(result.stdout)}
    assert checks["schema"] == f"{latest_version()} of {latest_version()}"
    assert checks["live_requests"] == "0" and checks["chdb"] and checks["clickhouse"]
    unreachable = run_cli("doctor", "--store", "http://u:topsecret@127.0.0.1:9/db")
    assert unreachable.returncode == 1 and "topsecret" not in unreachable.stdout + unreachable.stderr
    assert "UNREACHABLE: cannot reach store http://u:***@127.0.0.1:9/db: connection refused\n" in unreachable.stdout
    assert unreachable.stderr == ""  # no log line of the driver's


def test_migrate_print_shows_the_cluster_schema() -> None:
    result = run_cli("migrate", "--print", "--cluster", "prod")
    assert result.returncode == 0 and "ON CLUSTER `prod`" in result.stdout and "Distributed" in result.stdout
    assert "placeholders take their values when routewatch runs them" in result.stderr
    # The cluster the store's DSN names is the one printed, without --cluster; another --cluster is refused.
    dsn = {"ROUTEWATCH_STORE": "http://rw:s3cret@127.0.0.1:1/routewatch?cluster=prod"}
    from_dsn = run_cli("migrate", "--print", env_extra=dsn)
    assert from_dsn.returncode == 0 and from_dsn.stdout == result.stdout
    other = run_cli("migrate", "--print", "--cluster", "staging", env_extra=dsn)
    assert other.returncode != 0 and "differs from the cluster the store's DSN names (prod)" in other.stderr
    assert "s3cret" not in other.stderr + from_dsn.stderr


@pytest.mark.skipif(
    not os.environ.get("ROUTEWATCH_TEST_CLICKHOUSE_URL"),
    reason="set ROUTEWATCH_TEST_CLICKHOUSE_URL to a ClickHouse server",
)
def test_a_clickhouse_server_round_trip(tmp_path: object) -> None:
    from ingest.load import ingest
    from tests.conftest import good_record, write_lines

    server = Store(os.environ["ROUTEWATCH_TEST_CLICKHOUSE_URL"])
    path = write_lines(tmp_path / "one.jsonl", [__import__("json").dumps(good_record("server-1"))])  # type: ignore[operator]
    report = ingest(server, [str(path)])
    assert report.total("read") == 1
    assert server.query_rows("SELECT count() FROM requests FINAL WHERE request_id = 'server-1'")[0][0] == 1


@pytest.mark.skipif(
    not (os.environ.get("ROUTEWATCH_TEST_CLICKHOUSE_URL") and os.environ.get("ROUTEWATCH_TEST_CLICKHOUSE_CLUSTER")),
    reason="set ROUTEWATCH_TEST_CLICKHOUSE_URL to a node of a ClickHouse cluster and ROUTEWATCH_TEST_CLICKHOUSE_CLUSTER"
    " to its name (deploy/cluster/compose.yaml)",
)
def test_a_clickhouse_cluster_runs_the_gap_table_and_decide(tmp_path: Path) -> None:
    """On a fresh database of the cluster, with a DSN that names it: the schema ON CLUSTER (by the ingest), rows
    through the Distributed tables, the gap table through them and shard by shard (the same table), and `decide`,
    which judges each day once."""
    from alerts.judge import decide
    from ingest.load import ingest
    from ingest.synthetic import generate, write_jsonl
    from metrics.gaps import ALL_METRICS, gap_table

    cluster = os.environ["ROUTEWATCH_TEST_CLICKHOUSE_CLUSTER"]
    node = Store(os.environ["ROUTEWATCH_TEST_CLICKHOUSE_URL"])
    database = f"routewatch_test_{uuid.uuid4().hex[:12]}"
    node.command(f"CREATE DATABASE {database} ON CLUSTER `{cluster}`")
    try:
        address = urlsplit(node.dsn)._replace(path=f"/{database}")
        server = Store(urlunsplit(address._replace(query=f"cluster={cluster}")))  # as a team's DSN names it
        through_distributed = Store(urlunsplit(address))
        ingest(server, [str(write_jsonl(generate(20_000, seed=5, days=10), tmp_path / "t.jsonl"))])  # migrates
        distributed = server.query_rows(
            "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'requests'"
        )
        assert "Distributed" in distributed[0][0] and "cityHash64(user_id)" in distributed[0][0]
        assert server.query_rows("SELECT count() FROM requests FINAL")[0][0] == 20_000
        dimensions, metrics = ["language", "channel"], list(ALL_METRICS)
        key = ["dimension", "segment", "metric"]
        whole = gap_table(through_distributed, dimensions, metrics=metrics).sort_values(key)
        sharded = gap_table(server, dimensions, metrics=metrics).sort_values(key)  # shard by shard
        assert sharded["requests"].tolist() == whole["requests"].tolist() and whole["requests"].sum() > 0
        assert sharded["status"].tolist() == whole["status"].tolist()
        for column in ("gap", "ci_low", "ci_high", "p_value", "adjusted_gap"):
            np.testing.assert_allclose(sharded[column], whole[column], rtol=1e-7, atol=1e-12, err_msg=column)
        now = datetime(2026, 11, 2, tzinfo=UTC)
        run = decide(server, ["language", "channel", "tier"], now=now)
        assert run.windows and run.rows > 0
        assert decide(server, ["language", "channel", "tier"], now=now).windows == []
    finally:
        node.command(f"DROP DATABASE IF EXISTS {database} ON CLUSTER `{cluster}` SYNC")


def test_compact_merges_parts_and_changes_no_number(store: Store, tmp_path: object) -> None:
    from ingest.load import ingest
    from ingest.synthetic import generate, write_jsonl
    from routewatch.maintenance import compact

    path = write_jsonl(generate(3_000, seed=4, days=5), tmp_path / "t.jsonl")  # type: ignore[operator]
    ingest(store, [str(path)], chunk_rows=500)
    totals = "SELECT count(), sum(cost_usd), sum(sign) FROM requests FINAL"
    before = store.query_rows(totals)
    compact(store)  # background merges may have done part of the work already
    parts = store.query_rows(
        "SELECT max(n) FROM (SELECT count() AS n FROM system.parts WHERE database = currentDatabase()"
        " AND table = 'requests' AND active GROUP BY partition_id)"
    )
    assert parts[0][0] == 1
    assert store.query_rows(totals) == before
    assert compact(store)[0] == 0


def test_readiness_is_one_answer_for_the_cli_and_the_dashboard(store: Store) -> None:
    from routewatch.migrations import readiness

    assert readiness(store).state == "empty"
    empty = run_cli("metrics", "volume", store=store)
    assert empty.returncode == 1 and readiness(store).advice(store.display) in empty.stderr
    migrate(store, until=latest_version() - 1)
    assert readiness(store).state == "outdated"
    outdated = run_cli("gaps", store=store)
    assert outdated.returncode == 1 and "run `routewatch migrate`" in outdated.stderr
    migrate(store)
    assert (readiness(store).state, readiness(store).advice(store.display)) == ("ready", "")


# Opens an embedded store in a fresh process, has the engine allocate and free about 1 GB, and prints the process's
# resident MiB before, and the least seen within 2 s after (routewatch asks for 0.5 s; the engine's built-in setting
# keeps freed pages 5 s, and only returns them while it works). The allocator is configured once per process.
_ENGINE_MEMORY_SCRIPT = """
import re, sys, time
from routewatch.store import Store
def resident():
    return int(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) // 1024
store = Store(sys.argv[1])
store.query_rows("SELECT 1")
before = resident()
store.query_rows("SELECT length(groupArray(toString(number))) FROM numbers(20000000)")
least, deadline = resident(), time.monotonic() + 2
while least > before + 300 and time.monotonic() < deadline:
    time.sleep(0.1)
    least = min(least, resident())
print(before, least)
"""


@pytest.mark.parametrize(("allocator", "handed_back"), [(None, True), ("dirty_decay_ms:-1", False)])
def test_the_embedded_engine_hands_freed_memory_back(tmp_path: Path, allocator: str | None, handed_back: bool) -> None:
    """An idle engine returns what a query freed (routewatch.store.ENGINE_ALLOCATOR); a setting the environment
    gives (here: never return) is kept."""
    environment = {k: v for k, v in os.environ.items() if k != "JE_MALLOC_CONF"}
    if allocator is not None:
        environment["JE_MALLOC_CONF"] = allocator
    script = [sys.executable, "-c", _ENGINE_MEMORY_SCRIPT, f"chdb://{tmp_path / 'store'}"]
    result = subprocess.run(script, capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr[-2000:]
    before, least = map(int, result.stdout.split())
    assert (least < before + 300) is handed_back, (before, least)

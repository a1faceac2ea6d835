"""A store past one machine: the cluster DDL checked by the engine's own parser, the sharding keys, and the gap
statistics computed shard by shard on a store split the way two shards would hold it."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ingest.load import ingest
from ingest.synthetic import generate, write_jsonl
from metrics.gaps import ALL_METRICS, Shards, gap_table, load_cells
from routewatch.migrations import ledger_statements, migrate, plan
from routewatch.store import Store, StoreError
from tests.conftest import run_cli

CLUSTER = "prod"
DEDUPLICATING = re.compile(r"ENGINE = Replicated(Replacing|VersionedCollapsing|Collapsing)MergeTree")


def _parse(store: Store, statement: str) -> str:
    """The statement as the engine's parser formats it (a malformed one raises StoreError)."""
    return str(store.query_rows("SELECT formatQuery({statement:String})", {"statement": statement})[0][0])


def _printed_statements() -> list[str]:
    result = run_cli("migrate", "--print", "--cluster", CLUSTER)
    assert result.returncode == 0, result.stderr
    return [s.strip() for s in re.split(r";\n", result.stdout) if s.strip()]


def test_every_printed_cluster_statement_parses_with_the_engines_parser(store: Store) -> None:
    printed = _printed_statements()
    rendered = [*ledger_statements(CLUSTER), *(s for _, group in plan(CLUSTER) for s in group)]
    assert [s.rstrip() for s in rendered] == printed  # what --print shows is what migrate runs
    for statement in printed:
        formatted = _parse(store, statement)
        # The same statement back: its kind and, for DDL, the cluster it runs on.
        assert formatted.split()[0] == re.sub(r"^(--[^\n]*\n)*", "", statement).split()[0]
        if "ON CLUSTER" in statement:
            assert f"ON CLUSTER {CLUSTER}" in formatted
    # The test can fail: the parser rejects what a cluster would reject.
    with pytest.raises(StoreError, match="Syntax error"):
        _parse(store, printed[0].replace("ENGINE = ", "ENGINE = (", 1))


def test_the_shard_queries_parse_with_the_engines_parser(store: Store) -> None:
    params: dict[str, object] = {}
    shards = Shards.of_cluster(store, CLUSTER)
    from metrics.gaps import segment_query

    for grain in ("moments", "cell"):
        for bound in (False, True):
            sql = shards.for_cluster(segment_query("gap_cells", "language", None, params, grain, True, bound))
            formatted = _parse(store, sql)
            assert f"cluster('{CLUSTER}', view(" in formatted and re.search(r"requests_local\s+FINAL", formatted)
            assert "requests_live" not in formatted  # each shard reads its own rows, not the Distributed table
    with pytest.raises(ValueError, match="invalid cluster name"):
        Shards.of_cluster(store, "prod') --")


def test_a_store_on_a_cluster_names_it_in_its_dsn() -> None:
    from routewatch import guard

    store = Store("http://reader:secret@ch-s1r1:8123/routewatch?cluster=prod")
    assert store.cluster == CLUSTER and Store("http://ch:8123/routewatch").cluster == ""
    with pytest.raises(StoreError, match="invalid cluster name"):
        Store("http://ch:8123/routewatch?cluster=prod'")
    # A read-only client (the dashboard) may read the shards of its own cluster, and nothing more through them.
    functions = ["cluster", "clusterAllReplicas", "url", "view", "remote"]
    shard_query = Shards.of_cluster(store, CLUSTER).for_cluster("SELECT count() FROM requests_live")
    guard.check(shard_query, functions, CLUSTER)
    for refused in (
        shard_query.replace(f"cluster('{CLUSTER}'", "cluster('other'"),
        Shards.of_cluster(store, CLUSTER).for_cluster("SELECT * FROM url('http://x', CSV)"),
    ):
        with pytest.raises(guard.OutsideTheStore):
            guard.check(refused, functions, CLUSTER)
    with pytest.raises(guard.OutsideTheStore):
        guard.check(shard_query, functions)  # a store that names no cluster reads no cluster


def _columns(expression: str) -> set[str]:
    """The column names an expression reads (function names and literals left out)."""
    return set(re.findall(r"\b([a-z_][a-z0-9_]*)\b(?!\s*\()", expression)) - {"ts"} | (
        {"ts"} if re.search(r"\bts\b", expression) else set()
    )


def _sharding() -> dict[str, tuple[str, str, str]]:
    """Per table: the sharding key of its Distributed table, its local engine and its ORDER BY."""
    statements = [*ledger_statements(CLUSTER), *(s for _, group in plan(CLUSTER) for s in group)]
    found: dict[str, tuple[str, str, str]] = {}
    for statement in statements:
        distributed = re.search(
            r"CREATE TABLE IF NOT EXISTS (\w+) ON CLUSTER .*Distributed\(.*?, (\w+)_local, (.+)\)$", statement, re.S
        )
        if distributed:
            name, key = distributed.group(1), distributed.group(3)
            local = next(s for s in statements if f"CREATE TABLE IF NOT EXISTS {name}_local " in s)
            order = re.search(r"^ORDER BY (.+)$", local, re.M)
            engine = re.search(r"ENGINE = (\w+)", local)
            assert order and engine
            found[name] = (key, engine.group(1), order.group(1))
    return found


def test_the_request_tables_shard_by_user_and_every_deduplicated_row_meets_its_twin() -> None:
    sharding = _sharding()
    # The gap statistics group by user: every user's rows on one shard.
    assert sharding["requests"][0] == "cityHash64(user_id)"
    # The ingest's lookups and the per-call and feedback rows follow the request (they carry no user).
    for table in ("request_keys", "calls", "feedback"):
        assert sharding[table][0] == "cityHash64(request_id)"
    # A table that replaces rows sharing its sorting key must send them to one shard: it shards on columns of that
    # key. requests collapses a version with its cancel row, an exact copy, so any of its columns would do.
    replacing = {t: v for t, v in sharding.items() if "Replacing" in v[1] or "Collapsing" in v[1]}
    assert {
        "requests",
        "request_keys",
        "calls",
        "feedback",
        "quarantine",
        "ingest_batches",
        "gap_decisions",
        "schema_migrations",
    } <= set(replacing)
    for table, (key, _, order) in replacing.items():
        if table != "requests":
            assert _columns(key) and _columns(key) <= _columns(order), (table, key, order)


# --- Two shards -------------------------------------------------------------------------------------------------


def _copy_shard(source: Store, target: Store, shard: int, tmp: Path) -> None:
    """The rows of ``source``'s requests that a two-shard cluster sharded by cityHash64(user_id) holds on ``shard``
    (its Distributed table sends a row to shard key % 2), cancel rows included, into ``target``."""
    path = tmp / f"shard{shard}.native"
    source.command(
        "INSERT INTO FUNCTION file({path:String}, 'Native') SELECT * FROM requests"
        " WHERE cityHash64(user_id) % 2 = {shard:UInt8}",
        {"path": str(path), "shard": shard},
    )
    migrate(target)
    target.command("INSERT INTO requests SELECT * FROM file({path:String}, 'Native')", {"path": str(path)})


@pytest.fixture(scope="module")
def split_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Shards, list[str]]:
    """A store of synthetic traffic, in which some re-sent requests changed user, and its two shards."""
    tmp = tmp_path_factory.mktemp("shards")
    frame = generate(40_000, seed=11, days=10)
    first = write_jsonl(frame, tmp / "traffic.jsonl")
    # Re-sent with another user (and another spend): the cancel row follows the old user, the new version the new.
    moved = frame.iloc[:200].copy()
    moved["user_id"] = frame["user_id"].iloc[1000:1200].to_numpy()
    moved["cost_usd"] = moved["cost_usd"] * 2
    second = write_jsonl(moved, tmp / "resent.jsonl")
    whole = Store(f"chdb://{tmp / 'whole'}")
    report = ingest(whole, [str(first), str(second)])
    assert report.total("loaded") == 40_200
    shards = [Store(f"chdb://{tmp / f'shard{n}'}") for n in (0, 1)]
    for n, shard in enumerate(shards):
        _copy_shard(whole, shard, n, tmp)
    return whole, Shards.of_stores(shards), list(moved["request_id"])


def test_a_request_resent_with_another_user_lives_once_on_its_new_users_shard(
    split_store: tuple[Store, Shards, list[str]],
) -> None:
    whole, shards, moved = split_store
    live = "SELECT request_id, user_id FROM requests FINAL WHERE request_id IN {ids:Array(String)}"
    expected = sorted(whole.query_rows(live, {"ids": moved}))
    found = []
    for n, shard in enumerate(shards.stores):
        rows = shard.query_rows(live + " AND cityHash64(user_id) % 2 = {n:UInt8}", {"ids": moved, "n": n})
        assert len(rows) == len(shard.query_rows(live, {"ids": moved}))  # nothing live on the old user's shard
        found += rows
    assert sorted(found) == expected and len(expected) == len(moved)
    total = "SELECT count(), sum(cost_usd) FROM requests FINAL"
    per_shard = [shard.query_rows(total)[0] for shard in shards.stores]
    assert tuple(map(sum, zip(*per_shard, strict=True))) == whole.query_rows(total)[0]


def _over_users(column: str) -> bool:
    """A column of gap_moments that sums over users (users, users_T, sq_C, X_x_T)."""
    return column.startswith(("users", "sq_")) or "_x_" in column


@pytest.mark.parametrize("grain", ["moments", "cell"])
def test_per_shard_sums_merged_equal_the_single_stores(
    split_store: tuple[Store, Shards, list[str]], grain: str
) -> None:
    whole, shards, _ = split_store
    for dimension in ("language", "channel"):
        single = load_cells(whole, dimension, grain=grain, more=True)
        merged = load_cells(whole, dimension, grain=grain, more=True, shards=shards)
        keys = [k for k in ("grain", "segment", "task_type", "user_id") if k in single]
        single = single.sort_values(keys, ignore_index=True)
        assert list(merged.columns) == list(single.columns) and len(merged) == len(single)
        for column in single.columns:
            if _over_users(column) and "grain" in single:  # meaningful on segment rows only (gap_moments)
                single.loc[single["grain"] == "task", column] = merged.loc[merged["grain"] == "task", column]
            if pd.api.types.is_integer_dtype(single[column]):
                assert merged[column].tolist() == single[column].tolist(), column  # exact
            elif pd.api.types.is_float_dtype(single[column]):
                np.testing.assert_allclose(merged[column], single[column], rtol=1e-9, atol=1e-12, err_msg=column)
            else:
                assert merged[column].tolist() == single[column].tolist(), column


def test_the_gap_table_from_two_shards_is_the_single_stores(split_store: tuple[Store, Shards, list[str]]) -> None:
    whole, shards, _ = split_store
    dimensions = ["language", "channel"]
    single = gap_table(whole, dimensions, metrics=list(ALL_METRICS))
    sharded = gap_table(whole, dimensions, metrics=list(ALL_METRICS), shards=shards)
    assert len(single) == len(sharded)
    assert set(single.dropna(subset=["gap"])["metric"]) == set(ALL_METRICS)  # every kind of statistic compared
    key = ["dimension", "segment", "metric"]
    single, sharded = single.sort_values(key, ignore_index=True), sharded.sort_values(key, ignore_index=True)
    assert sharded[[*key, "reference", "requests", "users"]].equals(single[[*key, "reference", "requests", "users"]])
    # Every statistic, the p95 bootstrap's too (its sample is put in one order, whatever the shards' order).
    for column in ("value", "reference_value", "gap", "ci_low", "ci_high", "p_value", "adjusted_gap", "p_adjusted"):
        np.testing.assert_allclose(sharded[column], single[column], rtol=1e-7, atol=1e-12, err_msg=column)
    assert sharded["status"].tolist() == single["status"].tolist()


# --- The deployment recipe --------------------------------------------------------------------------------------

DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "cluster"


def test_the_compose_recipe_runs_the_layout_its_cluster_names() -> None:
    import xml.etree.ElementTree as ET

    config = ET.parse(DEPLOY / "config" / "cluster.xml").getroot()
    compose = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    (cluster,) = list(config.find("remote_servers") or [])
    assert cluster.tag == "routewatch" and f"migrate --cluster {cluster.tag}" in compose
    shards = cluster.findall("shard")
    assert [len(shard.findall("replica")) for shard in shards] == [2, 2]
    for number, shard in enumerate(shards, start=1):
        assert shard.findtext("internal_replication") == "true"  # the replicated tables copy rows, not Distributed
        for replica in shard.findall("replica"):
            host = replica.findtext("host")
            # The service of that name exists, and its macros put it on this shard under its own name.
            service = re.search(rf"^  {host}:\n((?:    .*\n)+)", compose, re.M)
            assert service, host
            assert f'SHARD: "{number}", REPLICA: {host}' in service.group(1)
            assert f"hostname: {host}" in service.group(1) and f"{host[3:]}:/var/lib/clickhouse" in service.group(1)
    keeper = config.find("zookeeper/node/host")
    assert keeper is not None and re.search(rf"^  {keeper.text}:\n", compose, re.M)
    macros = config.find("macros")
    assert macros is not None and {m.get("from_env") for m in macros} == {"SHARD", "REPLICA"}
    # Every replicated table's Keeper path uses those macros.
    assert all("{shard}" in s and "{replica}" in s for _, g in plan("routewatch") for s in g if "Replicated" in s)
    users = ET.parse(DEPLOY / "config" / "users.xml").getroot()
    assert users.findtext("profiles/default/distributed_foreground_insert") == "1"

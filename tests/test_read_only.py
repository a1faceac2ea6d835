"""Read-only clients (`routewatch sql`, the dashboard) cannot reach outside the store, and have a time limit.

On chDB, the engine embedded by default: ``readonly=1`` refuses table functions that reach outside but not the scalar
``file()`` nor ``INTO OUTFILE``; ``readonly=2`` refuses none of them. So every path is tested on the real engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cli.common import EXIT_ERROR, EXIT_OK
from cli.main import main
from routewatch import guard
from routewatch.sqlfiles import SQL_DIR, query
from routewatch.store import Store, StoreError, StoreTimeout
from tests.conftest import run_cli

SECRET = "routewatch-secret-line"
# A statement for every way out; {path} is a readable file outside the store.
REACHING_OUT = {
    "file": "SELECT * FROM file('{path}', 'LineAsString')",
    "file_scalar": "SELECT file('{path}')",
    "file_quoted": "SELECT \"file\"('{path}')",
    "file_commented": "SELECT * FROM file /* a comment */ ('{path}', 'LineAsString')",
    "file_behind_a_quote": "SELECT 1 AS \"x'\", file('{path}') AS \"'\"",
    "url": "SELECT * FROM url('http://127.0.0.1:9/x', 'LineAsString')",
    "s3": "SELECT * FROM s3('http://127.0.0.1:9/bucket/x.csv', 'CSV')",
    "remote": "SELECT * FROM remote('127.0.0.1:9', system.one)",
    "mysql": "SELECT * FROM mysql('127.0.0.1:9', 'db', 't', 'u', 'p')",
    "postgresql": "SELECT * FROM postgresql('127.0.0.1:9', 'db', 't', 'u', 'p')",
    "jdbc": "SELECT * FROM jdbc('datasource', 'schema', 'table')",
    "hdfs": "SELECT * FROM hdfs('hdfs://127.0.0.1:9/x', 'TSV', 'a String')",
    "input": "SELECT * FROM input('a String')",
    "executable": "SELECT * FROM executable('cat {path}', 'TSV', 'a String')",
    "sqlite": "SELECT * FROM sqlite('{path}', 't')",
    "python": "SELECT * FROM python(SECRET)",
    "filesystem": "SELECT name FROM filesystem('/')",
    "into_outfile": "SELECT 1 INTO OUTFILE '{path}.out'",
}


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A readable file outside the store."""
    path = tmp_path / "outside.txt"
    path.write_text(SECRET + "\n")
    return path


@pytest.fixture
def migrated(store: Store) -> Store:
    from routewatch.migrations import migrate

    migrate(store)
    return store


def _sql(statement: str, store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    """``routewatch sql STATEMENT`` in this process; returns its error, failing if it succeeded."""
    monkeypatch.setenv("ROUTEWATCH_STORE", store.dsn)
    code = main(["sql", statement, "--format", "csv"])
    out, err = capsys.readouterr()
    assert code == EXIT_ERROR and SECRET not in out, out
    return err


@pytest.mark.parametrize("name", list(REACHING_OUT))
def test_routewatch_sql_refuses_what_reaches_outside(
    name: str,
    migrated: Store,
    outside: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    error = _sql(REACHING_OUT[name].format(path=outside), migrated, monkeypatch, capsys)
    assert "outside the store" in error or "cannot write files" in error, error
    assert not Path(f"{outside}.out").exists()


@pytest.fixture
def dashboard_store(migrated: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], Store]]:
    """The dashboard's own store client (``app.context.store``) on the migrated store, with fresh caches."""
    from app import context

    monkeypatch.setenv("ROUTEWATCH_STORE", migrated.dsn)
    context.settings.clear()
    context.store.clear()
    yield context.store
    context.settings.clear()
    context.store.clear()


@pytest.mark.parametrize("name", list(REACHING_OUT))
def test_the_dashboards_store_refuses_what_reaches_outside(
    name: str, dashboard_store: Callable[[], Store], outside: Path
) -> None:
    reader = dashboard_store()
    assert reader.read_only and reader.time_limit_s > 0
    with pytest.raises(StoreError, match=r"outside the store|cannot write files"):
        reader.query_df(REACHING_OUT[name].format(path=outside))
    assert not Path(f"{outside}.out").exists()


@pytest.mark.parametrize("name", ["file", "url", "s3", "remote", "mysql", "postgresql", "jdbc", "hdfs", "sqlite"])
def test_the_engine_itself_refuses_table_functions_to_routewatch_sql(
    name: str, migrated: Store, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the statement check, `routewatch sql`'s session (readonly=1) still refuses them."""
    monkeypatch.setattr(guard, "check", lambda sql, table_functions, own_cluster="": None)
    statement = REACHING_OUT[name].format(path=outside)
    with pytest.raises(StoreError, match="readonly mode"):
        Store(migrated.dsn, fixed_settings=True).query_df(statement)


def test_without_the_check_readonly_2_would_read_a_file(
    migrated: Store, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why the statement check exists: the dashboard's session (readonly=2) lets file() through on chDB."""
    monkeypatch.setattr(guard, "check", lambda sql, table_functions, own_cluster="": None)
    rows = Store(migrated.dsn, read_only=True).query_rows(REACHING_OUT["file"].format(path=outside))
    assert rows == [(SECRET,)]


def test_read_only_clients_still_read_the_store_and_generate_rows(
    migrated: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ROUTEWATCH_STORE", migrated.dsn)
    statement = (
        "SELECT (SELECT count() FROM requests) AS requests, (SELECT sum(number) FROM numbers(10)) AS total, "
        "format('{}-{}', 'a', 'b') AS text, 'file(' AS literal -- file('/etc/passwd')"
    )
    assert main(["sql", statement, "--format", "csv"]) == EXIT_OK
    assert capsys.readouterr().out.strip().splitlines()[-1] == "0,45,a-b,file("


def test_every_reading_query_passes_the_check(migrated: Store) -> None:
    """The dashboard runs routewatch's own queries as a read-only client: no reading one may trip the check."""
    table_functions = [row[0] for row in migrated.query_rows(query("table_functions").text)]
    assert "file" in table_functions and "url" in table_functions
    reading = 0
    for path in (SQL_DIR / "queries").iterdir():
        body = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("--"))
        if path.name.endswith(".sql") and body.lstrip().upper().startswith(("SELECT", "WITH")):
            # cluster_shards reads the shards of the store's own cluster, the one its slot is filled with.
            guard.check(body.replace("{{cluster}}", "prod"), table_functions, "prod")
            reading += 1
    assert reading > 30


SLOW = "SELECT count() FROM numbers(100000000000)"


def test_routewatch_sql_has_a_time_limit_it_cannot_lift(migrated: Store) -> None:
    limited = {"ROUTEWATCH_QUERY_TIME_LIMIT": "1"}
    result = run_cli("sql", SLOW, store=migrated, env_extra=limited, timeout=60)
    assert result.returncode == 1 and "time limit of 1 s" in result.stderr, result.stderr
    lifted = run_cli("sql", f"{SLOW} SETTINGS max_execution_time = 0", store=migrated, env_extra=limited, timeout=60)
    assert lifted.returncode == 1 and "readonly mode" in lifted.stderr, lifted.stderr


def test_the_dashboards_store_has_a_time_limit(
    dashboard_store: Callable[[], Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTEWATCH_QUERY_TIME_LIMIT", "1")
    with pytest.raises(StoreTimeout, match="time limit of 1 s"):
        dashboard_store().query_rows(SLOW)

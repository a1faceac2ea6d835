"""Schema migrations: applied in order, recorded in schema_migrations, safe to run again.

With a cluster name the same schema is rendered for a ClickHouse cluster: every table becomes a replicated
``<name>_local`` table ``ON CLUSTER`` with a ``Distributed`` table named ``<name>`` over it, and materialized
views read and write the local tables, so each shard rolls up its own rows.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from routewatch.sqlfiles import Migration, migrations, query
from routewatch.store import Store

_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)")
_VIEW = re.compile(r"CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+)")
_FUNCTION = re.compile(r"CREATE (?:OR REPLACE )?FUNCTION (?:IF NOT EXISTS )?(\w+)")
_PLAIN_VIEW = re.compile(r"CREATE (?:OR REPLACE )?VIEW (?:IF NOT EXISTS )?(\w+)")
_ENGINE = re.compile(r"ENGINE = (\w*MergeTree)(?:\(([^)]*)\))?")
_SHARD_KEY = re.compile(r"^-- shard key: (.+)$", re.MULTILINE)
_ALTER_OR_DROP = re.compile(r"^(?:ALTER TABLE|DROP TABLE IF EXISTS) \w+", re.MULTILINE)
_DROP_VIEW = re.compile(r"^DROP VIEW IF EXISTS \w+", re.MULTILINE)
_INSERT = re.compile(r"^INSERT INTO ", re.MULTILINE)
_REWRITE = re.compile(r"\bMATERIALIZE COLUMN\b")
# A data step may use a row version greater than any in the store, bound as this parameter.
FRESH_VERSION = "{fresh_version:UInt64}"
_CLUSTER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _tables(all_migrations: list[Migration]) -> list[str]:
    names = [_TABLE.search(s) for m in all_migrations for s in m.statements]
    return ["schema_migrations", *(n.group(1) for n in names if n)]


def render_for_cluster(statement: str, cluster: str, tables: list[str]) -> list[str]:
    """Rewrite one schema statement for a cluster (see the module docstring)."""
    if not _CLUSTER_NAME.fullmatch(cluster):
        raise ValueError(f"invalid cluster name {cluster!r}")
    on = f"ON CLUSTER `{cluster}`"
    table = _TABLE.search(statement)
    if table:
        name = table.group(1)
        local = f"{name}_local"

        def replicated(match: re.Match[str]) -> str:
            args = [f"'/clickhouse/tables/{{shard}}/{{database}}/{local}'", "'{replica}'"]
            if match.group(2):
                args.append(match.group(2))
            return f"ENGINE = Replicated{match.group(1)}({', '.join(args)})"

        body = _ENGINE.sub(replicated, statement.replace(table.group(0), f"{table.group(0)}_local {on}", 1))
        body = re.sub(r"\s*SETTINGS non_replicated_deduplication_window = \d+", "", body)
        shard = _SHARD_KEY.search(statement)
        key = shard.group(1) if shard else "rand()"
        distributed = query("cluster_distributed_table").render(table=name, cluster=cluster, sharding_key=key)
        return [body, distributed]
    view = _VIEW.search(statement)
    if view:
        body = statement.replace(view.group(0), f"{view.group(0).rsplit(' TO ', 1)[0]} {on} TO {view.group(2)}_local")
        for name in tables:
            body = re.sub(rf"\bFROM {name}\b", f"FROM {name}_local", body)
        return [body]
    # A table change applies to the local tables and to the Distributed ones over them; rewriting stored data
    # only to the local tables, which hold it.
    changed = _ALTER_OR_DROP.search(statement)
    if changed:
        head = changed.group(0)
        local = statement.replace(head, f"{head}_local {on}", 1)
        return [local] if _REWRITE.search(statement) else [local, statement.replace(head, f"{head} {on}", 1)]
    # Functions and plain views exist on every node; a view reads the Distributed tables, so it sees every shard.
    plain = _FUNCTION.search(statement) or _PLAIN_VIEW.search(statement) or _DROP_VIEW.search(statement)
    if plain:
        return [statement.replace(plain.group(0), f"{plain.group(0)} {on}", 1)]
    # A data step runs once, through the Distributed tables.
    if _INSERT.search(statement):
        return [statement]
    raise ValueError(f"cannot render for a cluster: {statement.splitlines()[0]!r}")


def plan(cluster: str | None = None) -> list[tuple[Migration, list[str]]]:
    """Every migration with the statements it runs (rendered for ``cluster`` when given)."""
    all_migrations = migrations()
    tables = _tables(all_migrations)
    planned = []
    for migration in all_migrations:
        statements = list(migration.statements)
        if cluster:
            statements = [r for s in statements for r in render_for_cluster(s, cluster, tables)]
        planned.append((migration, statements))
    return planned


def ledger_statements(cluster: str | None = None) -> list[str]:
    """The statements that create the migration ledger itself."""
    ddl = query("migrations_ledger").text
    return render_for_cluster(ddl, cluster, ["schema_migrations"]) if cluster else [ddl]


def applied_versions(store: Store) -> set[int]:
    """Versions already recorded in the ledger (empty when the store is new)."""
    if not table_exists(store, "schema_migrations"):
        return set()
    return {int(r[0]) for r in store.query_rows(query("migrations_applied").text)}


def table_exists(store: Store, name: str) -> bool:
    """Whether ``name`` exists in the store's database."""
    return bool(store.query_rows(query("table_exists").text, {"name": name})[0][0])


def migrate(store: Store, cluster: str | None = None, until: int | None = None) -> list[int]:
    """Apply pending migrations in order (up to version ``until`` if given) and return the versions applied now."""
    applied_now = []
    with store.session():
        for statement in ledger_statements(cluster):
            store.command(statement)
        done = applied_versions(store)
        for migration, statements in plan(cluster):
            if migration.version in done or (until is not None and migration.version > until):
                continue
            for statement in statements:  # every statement is safe to rerun after a crash
                store.command(statement, _data_step_parameters(store, statement))
            store.command(
                query("migrations_record").text,
                parameters={"version": migration.version, "name": migration.name},
            )
            applied_now.append(migration.version)
    return applied_now


def next_version(store: Store) -> int:
    """A row version greater than any request or feedback event carries, and not behind the clock (ingest chunks
    and data steps of migrations write their rows under such a version)."""
    highest = int(store.query_rows(query("ingest_max_version").text)[0][0])
    return max(time.time_ns(), highest + 1)


def _data_step_parameters(store: Store, statement: str) -> dict[str, int] | None:
    return {"fresh_version": next_version(store)} if FRESH_VERSION in statement else None


def schema_version(store: Store) -> int:
    """The highest applied migration version, 0 for an empty store."""
    return max(applied_versions(store), default=0)


@dataclass(frozen=True)
class Readiness:
    """Whether a store can be read by this routewatch: its schema version against the latest one shipped."""

    current: int
    latest: int

    @property
    def state(self) -> str:
        """``empty`` (no schema), ``outdated`` (an older schema: run `routewatch migrate`) or ``ready``."""
        return "empty" if self.current == 0 else "outdated" if self.current < self.latest else "ready"

    def advice(self, store: str) -> str:
        """What to do before reading ``store`` (its display name); empty when it is ready."""
        return {
            "empty": f"the store {store} is empty: load data with `routewatch ingest` or `make demo`",
            "outdated": f"the store's schema is at version {self.current} of {self.latest}: run `routewatch migrate`",
            "ready": "",
        }[self.state]


def readiness(store: Store) -> Readiness:
    """Is the store ready to read: the one answer the command line and the dashboard share."""
    return Readiness(schema_version(store), latest_version())


def latest_version() -> int:
    """The highest migration version this routewatch ships."""
    return max((m.version for m in migrations()), default=0)

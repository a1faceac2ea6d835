"""``sql``, ``migrate``, ``compact`` and ``doctor``: the store itself."""

from __future__ import annotations

import argparse
import platform
from importlib import metadata
from typing import Any

import pandas as pd

from cli.common import EXIT_ERROR, EXIT_OK, Parents, open_store, say
from routewatch import output
from routewatch.settings import Settings
from routewatch.store import StoreError

# The versions `doctor` reports: the ones a bug report needs.
PACKAGES = ("routewatch", "chdb", "clickhouse-connect", "great-expectations", "pandas", "statsmodels", "streamlit")
SETTINGS_SHOWN = ("smtp_host", "smtp_port", "smtp_tls", "mail_from", "alert_to", "dashboard_url")


def cmd_sql(args: argparse.Namespace, settings: Settings) -> int:
    """Run one read-only statement (readonly=1 and the guard of routewatch.guard) and print its rows."""
    frame = open_store(settings, fixed_settings=True).query_df(args.statement)
    output.write(frame, args.format)
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Create or upgrade the schema, or print its statements (``--print``), for one server or a cluster."""
    from routewatch.migrations import ledger_statements, migrate, plan

    if args.print:
        for statement in ledger_statements(args.cluster) + [s for _, group in plan(args.cluster) for s in group]:
            print(statement.rstrip() + ";\n")
        return EXIT_OK
    applied = migrate(open_store(settings), cluster=args.cluster)
    say(f"applied migrations {applied}" if applied else "schema is up to date")
    return EXIT_OK


def cmd_compact(args: argparse.Namespace, settings: Settings) -> int:
    """Merge the store's parts so that reads stay fast."""
    from routewatch.maintenance import compact

    partitions, seconds = compact(open_store(settings))
    say(f"compacted {partitions} partition(s) in {seconds:.1f} s" if partitions else "nothing to compact")
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    """Print versions, the store and its schema, row counts, orphan feedback and settings (never a password)."""
    from alerts.state import display_url, state_url
    from metrics.health import describe_orphans, orphan_feedback
    from routewatch.migrations import readiness, table_exists
    from routewatch.sqlfiles import query

    rows: list[tuple[str, str]] = [("python", platform.python_version())]
    for package in PACKAGES:
        try:
            rows.append((package, metadata.version(package)))
        except metadata.PackageNotFoundError:
            rows.append((package, "not installed"))
    store = open_store(settings, read_only=True)
    rows.append(("store", store.display))
    healthy = True
    try:
        with store.session():
            rows.append(("clickhouse", str(store.query_rows(query("server_version").text)[0][0])))
            ready = readiness(store)
            advice = "" if ready.state == "ready" else " (run: routewatch migrate)"
            rows.append(("schema", f"{ready.current} of {ready.latest}{advice}"))
            if table_exists(store, "requests"):
                counts = store.query_df(query("table_counts").text).iloc[0]
                rows.extend((name, f"{int(value):,}") for name, value in counts.items())
                rows.append(("orphan feedback", describe_orphans(orphan_feedback(store))))
    except StoreError as exc:
        rows.append(("store status", f"UNREACHABLE: {exc}"))
        healthy = False
    rows.append(("setting state_db", display_url(state_url(settings))))
    for name in SETTINGS_SHOWN:
        rows.append((f"setting {name}", str(getattr(settings, name)) or "(not set)"))
    rows.append(("setting smtp_password", "(set)" if settings.smtp_password else "(not set)"))
    output.write(pd.DataFrame(rows, columns=["check", "value"]), args.format)
    return EXIT_OK if healthy else EXIT_ERROR


def register(sub: Any, parents: Parents) -> None:
    """Add ``sql``, ``migrate``, ``compact`` and ``doctor`` to the command line."""
    sql = sub.add_parser("sql", parents=[parents.common, parents.fmt], help="run a read-only SQL query")
    sql.add_argument("statement")
    sql.set_defaults(run=cmd_sql)

    migrate = sub.add_parser("migrate", parents=[parents.common], help="create or upgrade the schema")
    migrate.add_argument("--cluster", help="render ON CLUSTER replicated tables with Distributed tables over them")
    migrate.add_argument("--print", action="store_true", help="print the statements instead of running them")
    migrate.set_defaults(run=cmd_migrate)

    compact = sub.add_parser(
        "compact", parents=[parents.common], help="merge parts so reads stay fast (after big loads)"
    )
    compact.set_defaults(run=cmd_compact)

    doctor = sub.add_parser("doctor", parents=[parents.common, parents.fmt], help="store, versions, settings")
    doctor.set_defaults(run=cmd_doctor)

"""``sql``, ``migrate``, ``compact`` and ``doctor``: the store itself."""

from __future__ import annotations

import argparse
import json
import platform
import re
from datetime import date, datetime
from importlib import metadata
from typing import Any

import pandas as pd

from cli.common import EXIT_ERROR, EXIT_OK, CommandError, Parents, names, open_store, say, time_window, where
from routewatch import output
from routewatch.settings import Settings
from routewatch.store import StoreError

# The versions `doctor` reports: the ones a bug report needs.
PACKAGES = ("routewatch", "chdb", "clickhouse-connect", "great-expectations", "pandas", "statsmodels", "streamlit")
SETTINGS_SHOWN = ("smtp_host", "smtp_port", "smtp_tls", "mail_from", "alert_to", "dashboard_url")


# A bound parameter in rendered SQL: {name:Type}.
_BOUND = re.compile(r"\{(\w+):([^{}]+)\}")


def cmd_sql(args: argparse.Namespace, settings: Settings) -> int:
    """Run one read-only statement (readonly=1 and the guard of routewatch.guard) and print its rows, or with
    ``--show NAME`` print the SQL of a named query as routewatch runs it, with its bound parameters."""
    if args.show:
        return _show(args, settings)
    if not args.statement:
        raise CommandError("sql takes a statement, or --show NAME to print a named query")
    frame = open_store(settings, fixed_settings=True).query_df(args.statement)
    output.write(frame, args.format)
    return EXIT_OK


def _rendered(args: argparse.Namespace, settings: Settings) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The query ``args.show`` with its slots filled by the code that runs it, for the cut of ``--by``, ``--where``
    and ``--bucket`` (the dimension slots as ``metrics NAME`` fills them, the segment as ``gaps`` does), with the
    parameters and the query settings it runs with."""
    from metrics.dimensions import COLUMNS_FIRST, DimensionError, answers_from_rollup, fill, render
    from metrics.gaps import segment_query
    from metrics.latency import MEASURES
    from metrics.window import window
    from routewatch.sqlfiles import query

    name, by, cut = args.show, names(args.by), where(args.where)
    since, until = window(*time_window(args.since, args.until))
    params: dict[str, Any] = {
        "since": since,
        "until": until,
        "since_day": since.date(),
        "until_day": until.date(),
        "cheap_route": settings.route_order[0],
    }
    template = query(name)
    slots = set(template.slots)
    try:
        if not slots:
            return template.render(), params, {}
        if "segment" in slots or name == "gap_moments":  # one dimension; each user counts in their modal segment
            if len(by) != 1:
                raise CommandError(f"{name} compares the segments of one dimension: --show {name} --by DIM")
            if name == "gap_moments":
                return segment_query("gap_cells", by[0], cut, params, grain="moments", more=True), params, {}
            return segment_query(name, by[0], cut, params, more=True), params, {}
        if slots <= {"dims", "filters", "group_by", "histogram"}:
            rollup = "rollup_daily" in template.template
            if rollup and not answers_from_rollup(by, cut, args.bucket):
                raise CommandError(f"{name} reads rollup_daily, which keeps neither these dimensions nor this bucket")
            rendered = render(by, cut, args.bucket, rollup=rollup)
            params.update(rendered.params)
            histogram = {"histogram": MEASURES["latency"]} if "histogram" in slots else {}
            return fill(template, rendered, **histogram), params, COLUMNS_FIRST
    except DimensionError as exc:
        raise CommandError(str(exc)) from None
    raise CommandError(
        f"{name}: routewatch fills its slots ({', '.join(template.slots)}) at run time from what it reads; "
        "--show fills the cut of the metric, latency and gap queries"
    )


def _show(args: argparse.Namespace, settings: Settings) -> int:
    """Print a named query's SQL, then the query settings it runs with and each parameter it binds with its type
    and value (as SQL comments)."""
    try:
        sql, params, query_settings = _rendered(args, settings)
    except KeyError as exc:
        metric = f"metric_{args.show}"
        hint = f"; the metric {args.show} runs {metric} ({metric}_rollup when the daily rollup answers the cut)"
        raise CommandError(f"{exc.args[0]}{hint if _is_query(metric) else ''}") from None
    bound = {name: kind for name, kind in _BOUND.findall(sql)}
    if args.format == "json":
        shown = {name: {"type": kind, "value": _plain(params.get(name))} for name, kind in bound.items()}
        document = {"name": args.show, "sql": sql, "settings": query_settings, "params": shown}
        print(json.dumps(document, indent=1, ensure_ascii=False))
        return EXIT_OK
    print(sql)
    for setting, value in query_settings.items():
        print(f"-- run with the setting {setting} = {value}")
    if bound:
        print("-- bound parameters (? for one routewatch binds from what it reads):")
        for name, kind in bound.items():
            print(f"--   {name} {kind} = {_plain(params[name])!r}" if name in params else f"--   {name} {kind} = ?")
    return EXIT_OK


def _is_query(name: str) -> bool:
    from routewatch.sqlfiles import query

    try:
        query(name)
    except KeyError:
        return False
    return True


def _plain(value: Any) -> Any:
    """A parameter's value as JSON holds it: a time or a day in ISO 8601."""
    return value.isoformat() if isinstance(value, datetime | date) else value


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Create or upgrade the schema, or print its statements (``--print``), for one server or a cluster."""
    from routewatch.migrations import ledger_statements, migrate, plan
    from routewatch.store import Store, StoreError

    try:
        named = Store(settings.store_dsn).cluster  # the DSN's ?cluster=, read without connecting
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    if args.cluster and named and args.cluster != named:
        raise CommandError(
            f"--cluster {args.cluster} differs from the cluster the store's DSN names ({named}): the gap queries "
            "would read the other one; give one of them"
        )
    cluster = args.cluster or named or None
    if args.print:
        if any("{" in s for _, group in plan(cluster) for s in group):
            say("statements with {name:Type} placeholders take their values when routewatch runs them")
        for statement in ledger_statements(cluster) + [s for _, group in plan(cluster) for s in group]:
            print(statement.rstrip() + ";\n")
        return EXIT_OK
    applied = migrate(open_store(settings), cluster=cluster)
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
    from metrics.health import describe_orphans, describe_unpriced, orphan_feedback, unpriced_requests
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
                rows.append(("unpriced requests", describe_unpriced(unpriced_requests(store))))
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
    sql = sub.add_parser(
        "sql", parents=[parents.common, parents.fmt], help="run a read-only SQL query, or --show a named one"
    )
    sql.add_argument("statement", nargs="?")
    sql.add_argument("--show", metavar="NAME", help="print the SQL of a named query with its bound parameters")
    sql.add_argument("--by", help="with --show: DIM[,DIM], the dimensions to cut by")
    sql.add_argument("--where", action="append", default=[], metavar="DIM=VALUE", help="with --show: a filter")
    sql.add_argument("--bucket", choices=("hour", "day", "week"), help="with --show: one row per time bucket")
    sql.add_argument("--since", help="with --show: start time, inclusive (ISO 8601; UTC if no offset)")
    sql.add_argument("--until", help="with --show: end time, exclusive")
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

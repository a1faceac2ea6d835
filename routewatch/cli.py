"""The routewatch command line. Results go to stdout; progress, logs and errors go to stderr."""

from __future__ import annotations

import argparse
import platform
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from pathlib import Path

import orjson
import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from routewatch import output
from routewatch.settings import Settings, SettingsError, load_settings
from routewatch.store import Store, StoreError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class CommandError(RuntimeError):
    """A failure to report in one line, without a traceback."""


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        raise CommandError(
            f"cannot read {text!r} as a time (use ISO 8601, e.g. 2026-11-01 or 2026-11-01T12:00Z)"
        ) from None
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    # Stored times are whole milliseconds: rounding a bound up keeps `since <= ts < until` exact (see
    # metrics.registry.window).
    return stamp.ceil("ms").to_pydatetime()


def _window(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """--since and --until as UTC datetimes; an error when the window starts after it ends."""
    start, end = _time(since), _time(until)
    if start is not None and end is not None and start > end:
        raise CommandError(f"--since {since} is after --until {until}: the window would be empty")
    return start, end


def _names(text: str | None) -> list[str]:
    """A comma-separated list of names, blanks dropped."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def _where(pairs: list[str]) -> dict[str, str]:
    where = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise CommandError(f"--where takes DIM=VALUE, not {pair!r}")
        where[name.strip()] = value
    return where


def _store(settings: Settings, *, read_only: bool = False, fixed_settings: bool = False) -> Store:
    return Store(
        settings.store_dsn,
        read_only=read_only,
        time_limit_s=settings.query_time_limit_s,
        fixed_settings=fixed_settings,
        lock_timeout_s=settings.lock_timeout_s,
    )


# -- commands ---------------------------------------------------------------------------------------------


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.load import ingest, terminal_progress
    from ingest.readers import InputError

    store = _store(settings)
    progress = terminal_progress if sys.stderr.isatty() and not args.json else None
    try:
        report = ingest(store, args.paths, fmt=args.format, chunk_rows=args.chunk_rows, progress=progress)
    except InputError as exc:
        raise CommandError(str(exc)) from None
    summary = report.as_json()
    if args.json:
        print(orjson.dumps(summary).decode())
    for item in report.files:
        state = "already loaded, skipped" if item.skipped else f"{item.seconds:.1f} s"
        _say(
            f"{item.file}: read {item.read:,} = loaded {item.loaded:,} + quarantined {item.quarantined:,}"
            f" + duplicates {item.duplicates:,} ({item.updated:,} updates; {state})"
        )
    if report.recovered_chunks:
        _say(f"finished {report.recovered_chunks} chunk(s) left by an interrupted ingest")
    _say(
        f"total: read {summary['read']:,} = loaded {summary['loaded']:,} + quarantined {summary['quarantined']:,}"
        f" + duplicates {summary['duplicates']:,}"
    )
    if summary["quarantined"]:
        from routewatch.sqlfiles import query

        sample = " ".join(line for line in query("quarantine_sample").text.splitlines() if not line.startswith("--"))
        _say(f'see the bad rows: routewatch sql "{sample}"')
    return EXIT_OK


def _readable_store(settings: Settings) -> Store:
    """A read-only store whose schema is current, or a clear word on what to do."""
    from routewatch.migrations import readiness

    store = _store(settings, read_only=True)
    ready = readiness(store)
    if ready.state != "ready":
        raise CommandError(ready.advice(store.display))
    return store


def cmd_metrics(args: argparse.Namespace, settings: Settings) -> int:
    from metrics.dimensions import DimensionError
    from metrics.registry import UnknownMetric, WindowError, compute

    by = _names(args.by)
    if args.name == "calibration":
        return _calibration(args, settings, by)
    since, until = _window(args.since, args.until)
    try:
        frame = compute(
            _readable_store(settings),
            args.name,
            by=by,
            since=since,
            until=until,
            where=_where(args.where),
            bucket=args.bucket,
            cheap_route=settings.route_order[0],
            reask_window_s=settings.reask_window_s,
        )
    except (DimensionError, UnknownMetric, WindowError) as exc:
        raise CommandError(str(exc).strip("'\"")) from None
    output.write(frame, args.format)
    return EXIT_OK


def _calibration(args: argparse.Namespace, settings: Settings, by: list[str]) -> int:
    """`metrics calibration --by DIM`: router-score calibration of each segment against its reference."""
    from metrics.calibration import calibration
    from metrics.dimensions import DimensionError

    if len(by) != 1:
        raise CommandError("metrics calibration takes one dimension: --by DIM (e.g. --by language)")
    since, until = _window(args.since, args.until)
    try:
        result = calibration(_readable_store(settings), by[0], since=since, until=until, where=_where(args.where))
    except DimensionError as exc:
        raise CommandError(str(exc).strip("'\"")) from None
    if result.reference is None:
        _say("no request in this window carries a router_score: send the router's difficulty score to calibrate it")
    output.write(result.tests, args.format)
    return EXIT_OK


def _metric_list(text: str | None) -> list[str] | None:
    from metrics.gaps import ALL_METRICS

    if not text:
        return None
    return list(ALL_METRICS) if text == "all" else _names(text)


def cmd_gaps(args: argparse.Namespace, settings: Settings) -> int:
    from metrics.dimensions import DimensionError
    from metrics.gaps import COLUMNS, GapSettings, gap_table

    dimensions = _names(args.by)
    references = _where(args.reference)
    since, until = _window(args.since, args.until)
    try:
        table = gap_table(
            _readable_store(settings),
            dimensions,
            GapSettings(reference=references, audit=args.audit, reask_window_s=settings.reask_window_s),
            metrics=_metric_list(args.metric),
            since=since,
            until=until,
            progress=output.stage_progress if sys.stderr.isatty() else None,
        )
    except (DimensionError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    output.write(table if args.format == "json" else table[list(COLUMNS)], args.format)
    return EXIT_OK


def cmd_decide(args: argparse.Namespace, settings: Settings) -> int:
    from alerts.judge import decide
    from routewatch.migrations import migrate

    store = _store(settings)
    migrate(store)
    dimensions = _names(args.by)
    run = decide(store, dimensions, redo_from=args.redo_from)
    if not run.windows:
        _say("every closed day is already decided")
    else:
        _say(
            f"decided {len(run.windows)} day(s) ({run.windows[0]} to {run.windows[-1]}): {run.rows} comparisons, "
            f"{run.confirmed} confirmed, {run.warnings} early warnings"
        )
    return EXIT_OK


def cmd_second_class(args: argparse.Namespace, settings: Settings) -> int:
    from metrics.decisions import last_closed_week, verdict

    if args.days is not None and args.days < 1:
        raise CommandError(f"--days takes a number of closed days, 1 or more, not {args.days}")
    until = _time(args.until) or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if until.time() != datetime.min.time():
        raise CommandError(f"--until takes a whole UTC day (e.g. 2026-11-30), not {args.until}")
    if args.days is None:
        first, last = last_closed_week(until.date())
    else:
        first, last = until.date() - timedelta(days=args.days), until.date() - timedelta(days=1)
    found = verdict(_readable_store(settings), _names(args.by), first, last)
    _say(f"second-class users over {found.describe()}")
    output.write(found.users.assign(first_day=str(first), last_day=str(last), decided=found.stored), args.format)
    return EXIT_OK


def cmd_alerts(args: argparse.Namespace, settings: Settings) -> int:
    """``alerts check``, ``alerts run`` and ``alerts preview``."""
    import logging

    from alerts import job
    from alerts.rules import RuleError, load_rules

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        rules = job.with_recipient(load_rules(settings), getattr(args, "to", None))
    except RuleError as exc:
        raise CommandError(str(exc)) from None
    if args.action == "check":
        recipients = ", ".join(f"{r.address} ({r.schedule})" for r in rules.recipients) or "nobody"
        _say(
            f"rules are valid: {', '.join(rules.metrics)} on {', '.join(rules.dimensions)}, statuses "
            f"{', '.join(rules.statuses)}, at least {rules.min_users} users; mail to {recipients}; "
            f"{len(rules.webhooks)} webhook(s)"
        )
        return EXIT_OK
    store = _store(settings)
    if args.action == "preview":
        written = job.preview(store, settings, rules, Path(args.out))
        _say(f"wrote {len(written)} file(s) to {args.out}" if written else "nothing to send")
        for path in written:
            print(path)
        return EXIT_OK
    if args.dry_run:
        from alerts.state import open_state, state_url

        windows, changes, planned = job.evaluate_and_record(
            open_state(state_url(settings)), store, settings, rules, commit=False
        )
        _say(f"dry run: {len(windows)} window(s) to evaluate, {changes} change(s), nothing recorded or sent")
        for message in planned:
            print(f"{message.channel}\t{message.target}\t{message.subject}")
        return EXIT_OK
    report = job.run(store, settings, rules)
    delivery = report.delivery
    _say(
        f"judged {len(report.judged)} day(s), evaluated {len(report.evaluated)} window(s): {report.changes} change(s), "
        f"{report.recorded} message(s) recorded; sent {len(delivery.sent)}, failed {len(delivery.failed)}"
        + (f", {len(delivery.busy)} being sent by another run" if delivery.busy else "")
    )
    if delivery.failed:
        _say(f"{len(delivery.failed)} message(s) stay in the outbox; the next run tries them again")
        return EXIT_ERROR
    return EXIT_OK


def cmd_sql(args: argparse.Namespace, settings: Settings) -> int:
    frame = _store(settings, fixed_settings=True).query_df(args.statement)
    output.write(frame, args.format)
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from routewatch.migrations import ledger_statements, migrate, plan

    if args.print:
        for statement in ledger_statements(args.cluster) + [s for _, group in plan(args.cluster) for s in group]:
            print(statement.rstrip() + ";\n")
        return EXIT_OK
    applied = migrate(_store(settings), cluster=args.cluster)
    _say(f"applied migrations {applied}" if applied else "schema is up to date")
    return EXIT_OK


def cmd_compact(args: argparse.Namespace, settings: Settings) -> int:
    from routewatch.maintenance import compact

    partitions, seconds = compact(_store(settings))
    _say(f"compacted {partitions} partition(s) in {seconds:.1f} s" if partitions else "nothing to compact")
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from metrics.health import describe_orphans, orphan_feedback
    from routewatch.migrations import readiness, table_exists
    from routewatch.sqlfiles import query

    rows: list[tuple[str, str]] = [("python", platform.python_version())]
    for package in (
        "routewatch",
        "chdb",
        "clickhouse-connect",
        "great-expectations",
        "pandas",
        "statsmodels",
        "streamlit",
    ):
        try:
            rows.append((package, metadata.version(package)))
        except metadata.PackageNotFoundError:
            rows.append((package, "not installed"))
    store = _store(settings, read_only=True)
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
    from alerts.state import display_url, state_url

    rows.append(("setting state_db", display_url(state_url(settings))))
    for name in ("smtp_host", "smtp_port", "smtp_tls", "mail_from", "alert_to", "dashboard_url"):
        rows.append((f"setting {name}", str(getattr(settings, name)) or "(not set)"))
    rows.append(("setting smtp_password", "(set)" if settings.smtp_password else "(not set)"))
    output.write(pd.DataFrame(rows, columns=["check", "value"]), args.format)
    return EXIT_OK if healthy else EXIT_ERROR


def cmd_dashboard(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the Streamlit dashboard on the store until interrupted."""
    return serve_dashboard(settings, args.port, args.address)


def serve_dashboard(settings: Settings, port: int, address: str = "localhost") -> int:
    """Run the Streamlit dashboard (app/streamlit_app.py) on ``port`` with this invocation's store and settings."""
    import os

    from app.serve import streamlit_command

    env = dict(os.environ, ROUTEWATCH_STORE=settings.store_dsn)
    config = Path(os.environ.get("ROUTEWATCH_CONFIG", "routewatch.toml")).resolve()
    if config.is_file():
        env["ROUTEWATCH_CONFIG"] = str(config)
    _say(f"routewatch dashboard: http://{address}:{port} (store {_store(settings).display}); Ctrl+C stops it")
    return run_child(subprocess.Popen(streamlit_command(port, address), env=env))


def run_child(child: subprocess.Popen[bytes], grace_s: float = 10.0) -> int:
    """Wait for ``child``; SIGTERM or SIGINT to this process stops it first (SIGTERM, then SIGKILL after
    ``grace_s``), so that a service manager, a container runtime or Ctrl+C leaves no server holding the port and
    the store. Returns the child's exit code, or 0 when it was stopped on request."""
    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        stopping.set()
        if child.poll() is None:
            child.terminate()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            try:
                code = child.wait(timeout=grace_s) if stopping.is_set() else child.wait()
                break
            except subprocess.TimeoutExpired:
                child.kill()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child.poll() is None:  # leaving for any other reason (an exception): never leave the server behind
            child.kill()
            child.wait()
    return EXIT_OK if stopping.is_set() else code


DEMO_DIMENSIONS = ["language", "channel", "tier"]


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from alerts.judge import decide
    from ingest.load import ingest, state_dir, terminal_progress
    from ingest.synthetic import STORIES, generate, write_jsonl
    from metrics.decisions import last_closed_week, verdict
    from metrics.registry import compute
    from routewatch.maintenance import compact

    store = _store(settings)
    # The window ends at today's midnight, so running the demo twice on one day loads nothing twice.
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    _say(f"generating {args.rows:,} synthetic requests (seed {args.seed}) ending {end:%Y-%m-%d} ...")
    frame = generate(args.rows, seed=args.seed, end=end)
    directory = state_dir(store)
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        path = write_jsonl(frame, Path(tmp) / "demo-traffic.jsonl")
        del frame
        report = ingest(store, [str(path)], progress=terminal_progress if sys.stderr.isatty() else None)
    summary = report.as_json()
    _say(
        f"loaded {summary['loaded']:,}, quarantined {summary['quarantined']:,}, duplicates {summary['duplicates']:,}"
        f" into {store.display}"
    )
    compact(store)
    _say("planted stories (see ingest/synthetic.py):\n" + "\n".join(f"  - {story}" for story in STORIES))
    print("\nWhat a resolved request really costs, by route:")
    output.write(compute(store, "cost_per_resolved", by=["route"]), "table")
    print("\nEscalation and resolution by language:")
    escalation = compute(store, "escalation_rate", by=["language"])
    resolution = compute(store, "resolution_rate", by=["language"])
    output.write(escalation.merge(resolution[["language", "resolution_rate"]], on="language"), "table")
    run = decide(store, DEMO_DIMENSIONS)
    _say(f"decided {len(run.windows)} closed day(s): {run.confirmed} confirmed gaps, {run.warnings} early warnings")
    found = verdict(store, DEMO_DIMENSIONS, *last_closed_week(end.date()))
    print(f"\nSecond-class users over {found.describe()}:")
    for row in found.users.itertuples():
        print(f"  [{row.severity}] {row.evidence}")
    if found.users.empty:
        print("  none confirmed")
    if args.no_serve:
        _say("next: routewatch dashboard | routewatch gaps --by language | routewatch metrics latency --by route")
        return EXIT_OK
    return serve_dashboard(settings, args.port)


# -- parser -----------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    from ingest.readers import FORMATS

    parser = argparse.ArgumentParser(
        prog="routewatch", description="Routing fairness and cost observability for LLM routers."
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", help="store DSN: chdb:///abs/path or http(s)://user:pass@host:8123/db")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", parents=[common], help="synthetic traffic -> store -> dashboard")
    demo.add_argument("--rows", type=int, default=400_000)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--port", type=int, default=8501)
    demo.add_argument("--no-serve", action="store_true", help="load the traffic and stop")
    demo.set_defaults(run=cmd_demo)

    ingest = sub.add_parser("ingest", parents=[common], help="load request logs (files, directories, globs, -)")
    ingest.add_argument("paths", nargs="+", metavar="PATH")
    ingest.add_argument("--format", choices=FORMATS, default="auto")
    ingest.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    ingest.add_argument("--chunk-rows", type=int, default=100_000, help=argparse.SUPPRESS)
    ingest.set_defaults(run=cmd_ingest)

    fmt = argparse.ArgumentParser(add_help=False)
    fmt.add_argument("--format", choices=output.OUTPUT_FORMATS, default="table")

    from metrics.registry import METRICS

    metrics = sub.add_parser("metrics", parents=[common, fmt], help="one metric, by any dimensions")
    metrics.add_argument(
        "name",
        choices=[*(m.name for m in METRICS), "calibration"],
        metavar="NAME",
        help=", ".join(m.name for m in METRICS) + "; or calibration (router score by segment, with --by DIM)",
    )
    metrics.add_argument("--by", help="DIM[,DIM]: language, channel, tier, route, segments.<key>, ...")
    metrics.add_argument("--since", help="start time, inclusive (ISO 8601; UTC if no offset)")
    metrics.add_argument("--until", help="end time, exclusive")
    metrics.add_argument("--where", action="append", default=[], metavar="DIM=VALUE")
    metrics.add_argument("--bucket", choices=("hour", "day", "week"), help="one row per time bucket (UTC)")
    metrics.set_defaults(run=cmd_metrics)

    gaps = sub.add_parser("gaps", parents=[common, fmt], help="segment gaps with their statistics")
    gaps.add_argument("--by", default="language,channel,tier", help="DIM[,DIM] (default language,channel,tier)")
    gaps.add_argument(
        "--metric",
        help="NAME[,NAME] or all: escalation_rate, error_rate, resolution_rate, thumbs_up_rate (the default four), "
        "csat, latency_p95, cost_per_request",
    )
    gaps.add_argument("--reference", action="append", default=[], metavar="DIM=SEGMENT", help="default: the largest")
    gaps.add_argument(
        "--audit",
        action="store_true",
        help="adjust for task mix with models clustered by user (logit, ordinal logit, Gamma GLM, quantile "
        "regression) instead of standardization (slower, the weekly audit)",
    )
    gaps.add_argument("--since", help="start time, inclusive (ISO 8601; UTC if no offset)")
    gaps.add_argument("--until", help="end time, exclusive")
    gaps.set_defaults(run=cmd_gaps)

    decide = sub.add_parser("decide", parents=[common], help="judge every closed day once and store the decisions")
    decide.add_argument("--by", default="language,channel,tier", help="DIM[,DIM] (default language,channel,tier)")
    decide.add_argument(
        "--redo-from",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="judge again every closed day from this one on (after an upgrade that changed the statistics)",
    )
    decide.set_defaults(run=cmd_decide)

    second = sub.add_parser("second-class", parents=[common, fmt], help="segments served worse, with evidence")
    second.add_argument("--by", default="language,channel,tier", help="DIM[,DIM] (default language,channel,tier)")
    second.add_argument(
        "--days",
        type=int,
        help="judge the last N closed days now (default: the last closed ISO week, as its weekly audit decided it)",
    )
    second.add_argument("--until", help="the day the period ends before, exclusive (default: today, UTC)")
    second.set_defaults(run=cmd_second_class)

    alerts = sub.add_parser("alerts", help="alert rules, the alert job and its emails")
    actions = alerts.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser("check", parents=[common], help="validate the [alerts] rules of routewatch.toml")
    check.set_defaults(run=cmd_alerts)
    run = actions.add_parser(
        "run", parents=[common], help="judge closed days, evaluate the rules, deliver (safe every hour)"
    )
    run.add_argument("--dry-run", action="store_true", help="list what would be sent; record and send nothing")
    run.add_argument("--to", metavar="ADDR", help="send every email to this address instead of the rules' recipients")
    run.set_defaults(run=cmd_alerts)
    preview = actions.add_parser("preview", parents=[common], help="write the next emails as .eml and .html")
    preview.add_argument("--out", required=True, metavar="DIR")
    preview.set_defaults(run=cmd_alerts)

    sql = sub.add_parser("sql", parents=[common, fmt], help="run a read-only SQL query")
    sql.add_argument("statement")
    sql.set_defaults(run=cmd_sql)

    migrate = sub.add_parser("migrate", parents=[common], help="create or upgrade the schema")
    migrate.add_argument("--cluster", help="render ON CLUSTER replicated tables with Distributed tables over them")
    migrate.add_argument("--print", action="store_true", help="print the statements instead of running them")
    migrate.set_defaults(run=cmd_migrate)

    compact = sub.add_parser("compact", parents=[common], help="merge parts so reads stay fast (after big loads)")
    compact.set_defaults(run=cmd_compact)

    dashboard = sub.add_parser("dashboard", parents=[common], help="serve the dashboard (read-only)")
    dashboard.add_argument("--port", type=int, default=8501)
    dashboard.add_argument("--address", default="localhost", help="interface to listen on (0.0.0.0: every one)")
    dashboard.set_defaults(run=cmd_dashboard)

    doctor = sub.add_parser("doctor", parents=[common, fmt], help="store, versions, settings")
    doctor.set_defaults(run=cmd_doctor)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``routewatch`` console script."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings({"store": args.store})
        return int(args.run(args, settings))
    except (CommandError, SettingsError, StoreError, TimeoutError) as exc:
        _say(f"routewatch {args.command}: error: {exc}")
        return EXIT_ERROR
    except SQLAlchemyError as exc:  # the alert state database; its URL's password is hidden by SQLAlchemy
        _say(f"routewatch {args.command}: state database error: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except BrokenPipeError:  # `routewatch sql ... | head`: the reader has what it wanted
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

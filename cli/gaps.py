"""``gaps``, ``decide`` and ``second-class``: segment gaps with their statistics, judged and stored."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cli.common import EXIT_OK, CommandError, Parents, names, open_store, readable_store, say, time, time_window, where
from cli.progress import interactive, stage_progress
from routewatch import output
from routewatch.settings import Settings

DEFAULT_DIMENSIONS = "language,channel,tier"


def _metric_list(text: str | None) -> list[str] | None:
    from metrics.gaps import ALL_METRICS

    if not text:
        return None
    return list(ALL_METRICS) if text == "all" else names(text)


def cmd_gaps(args: argparse.Namespace, settings: Settings) -> int:
    """Print the gap table of ``--by`` dimensions: each segment against its reference, with its verdict."""
    from metrics.dimensions import DimensionError
    from metrics.gaps import COLUMNS, GapSettings, gap_table

    since, until = time_window(args.since, args.until)
    try:
        table = gap_table(
            readable_store(settings),
            names(args.by),
            GapSettings(reference=where(args.reference), audit=args.audit, reask_window_s=settings.reask_window_s),
            metrics=_metric_list(args.metric),
            since=since,
            until=until,
            progress=stage_progress if interactive() else None,
        )
    except (DimensionError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    span = f"{args.since or 'the first request'} to {args.until or 'the last'} (UTC)"
    if table.empty:
        say(
            f"gaps over {span}: nothing to compare, each dimension has a single segment here (a segments.<key> that "
            "no request carries is one empty segment)"
        )
    else:
        family = int(table["p_adjusted"].notna().sum())
        say(
            f"gaps over {span}: {len(table):,} comparisons, {family:,} of them tested and corrected together "
            "(Benjamini-Hochberg over this run's dimensions and metrics)"
        )
    output.write(table if args.format == "json" else table[list(COLUMNS)], args.format)
    return EXIT_OK


def cmd_decide(args: argparse.Namespace, settings: Settings) -> int:
    """Judge every closed day not yet judged (or again from ``--redo-from``) and store the decisions."""
    from alerts.judge import decide
    from routewatch.migrations import migrate

    store = open_store(settings)
    migrate(store)
    run = decide(store, names(args.by), redo_from=args.redo_from, progress=stage_progress if interactive() else None)
    if not run.windows:
        say("every closed day is already decided")
    else:
        say(
            f"decided {len(run.windows)} day(s) ({run.windows[0]} to {run.windows[-1]}): {run.rows} comparisons, "
            f"{run.confirmed} confirmed, {run.warnings} early warnings"
        )
    if run.trailing is not None and run.trailing.computed:
        say(
            f"stored the gap tables of {run.trailing.computed} trailing window(s) (the last 7, 14 and 28 days as of "
            f"each closed day, every router and each version; {run.trailing.current} already current) in "
            f"{run.trailing.seconds:.1f} s"
        )
    return EXIT_OK


def cmd_second_class(args: argparse.Namespace, settings: Settings) -> int:
    """Print the segments served worse over the last closed ISO week (or the last ``--days`` closed days)."""
    from metrics.decisions import last_closed_week, verdict

    if args.days is not None and args.days < 1:
        raise CommandError(f"--days takes a number of closed days, 1 or more, not {args.days}")
    until = time(args.until) or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if until.time() != datetime.min.time():
        raise CommandError(f"--until takes a whole UTC day (e.g. 2026-11-30), not {args.until}")
    if args.days is None:
        first, last = last_closed_week(until.date())
    else:
        first, last = until.date() - timedelta(days=args.days), until.date() - timedelta(days=1)
    found = verdict(readable_store(settings), names(args.by), first, last)
    say(f"second-class users over {found.describe()}")
    output.write(found.users.assign(first_day=str(first), last_day=str(last), decided=found.stored), args.format)
    return EXIT_OK


def register(sub: Any, parents: Parents) -> None:
    """Add ``gaps``, ``decide`` and ``second-class`` to the command line."""
    from metrics.gaps import ALL_METRICS, DEFAULT_METRICS

    by_help = f"DIM[,DIM] (default {DEFAULT_DIMENSIONS})"
    gaps = sub.add_parser("gaps", parents=[parents.common, parents.fmt], help="segment gaps with their statistics")
    gaps.add_argument("--by", default=DEFAULT_DIMENSIONS, help=by_help)
    gaps.add_argument(
        "--metric",
        help=f"NAME[,NAME] or all: {', '.join(ALL_METRICS)} (default {', '.join(DEFAULT_METRICS)})",
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

    decide = sub.add_parser(
        "decide", parents=[parents.common], help="judge every closed day once and store the decisions"
    )
    decide.add_argument("--by", default=DEFAULT_DIMENSIONS, help=by_help)
    decide.add_argument(
        "--redo-from",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="judge again every closed day from this one on (after an upgrade that changed the statistics)",
    )
    decide.set_defaults(run=cmd_decide)

    second = sub.add_parser(
        "second-class", parents=[parents.common, parents.fmt], help="segments served worse, with evidence"
    )
    second.add_argument("--by", default=DEFAULT_DIMENSIONS, help=by_help)
    second.add_argument(
        "--days",
        type=int,
        help="judge the last N closed days now (default: the last closed ISO week, as its weekly audit decided it)",
    )
    second.add_argument("--until", help="the day the period ends before, exclusive (default: today, UTC)")
    second.set_defaults(run=cmd_second_class)

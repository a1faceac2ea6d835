"""``metrics``: one metric of the registry, by any dimensions; ``metrics calibration``: the router's score."""

from __future__ import annotations

import argparse
from typing import Any

from cli.common import EXIT_OK, CommandError, Parents, names, readable_store, say, time_window, where
from routewatch import output
from routewatch.settings import Settings


def cmd_metrics(args: argparse.Namespace, settings: Settings) -> int:
    """Print one metric of the registry, by ``--by`` dimensions, in a window, filtered and bucketed."""
    from metrics.dimensions import DimensionError
    from metrics.registry import UnknownMetric, compute
    from metrics.window import WindowError

    by = names(args.by)
    if args.name == "calibration":
        return _calibration(args, settings, by)
    since, until = time_window(args.since, args.until)
    try:
        frame = compute(
            readable_store(settings),
            args.name,
            by=by,
            since=since,
            until=until,
            where=where(args.where),
            bucket=args.bucket,
            cheap_route=settings.route_order[0],
            reask_window_s=settings.reask_window_s,
        )
    except (DimensionError, UnknownMetric, WindowError) as exc:
        raise CommandError(str(exc).strip("'\"")) from None
    if args.name == "shadow_divergence" and not frame["compared"].sum():
        say("no request in this window carries a shadow_route: send the route a shadow router would have chosen")
    output.write(frame, args.format)
    return EXIT_OK


def _calibration(args: argparse.Namespace, settings: Settings, by: list[str]) -> int:
    """`metrics calibration --by DIM`: router-score calibration of each segment against its reference."""
    from metrics.calibration import calibration
    from metrics.dimensions import DimensionError

    if len(by) != 1:
        raise CommandError("metrics calibration takes one dimension: --by DIM (e.g. --by language)")
    since, until = time_window(args.since, args.until)
    try:
        result = calibration(readable_store(settings), by[0], since=since, until=until, where=where(args.where))
    except DimensionError as exc:
        raise CommandError(str(exc).strip("'\"")) from None
    if result.reference is None:
        say("no request in this window carries a router_score: send the router's difficulty score to calibrate it")
    output.write(result.tests, args.format)
    return EXIT_OK


def register(sub: Any, parents: Parents) -> None:
    """Add ``metrics`` to the command line; its choices and help come from the metric registry."""
    from metrics.registry import METRICS

    metrics = sub.add_parser("metrics", parents=[parents.common, parents.fmt], help="one metric, by any dimensions")
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

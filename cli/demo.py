"""``demo``: synthetic traffic with planted stories, ingested, judged, summarised and served."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from cli.common import EXIT_OK, Parents, open_store, say
from cli.dashboard import serve_dashboard
from cli.progress import file_progress, interactive
from routewatch import output
from routewatch.settings import Settings
from routewatch.store import Store

DEMO_DIMENSIONS = ["language", "channel", "tier"]


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Generate ``args.rows`` requests ending today, load them, judge them, print the verdict, serve the pages."""
    from alerts.judge import decide
    from ingest.load import ingest, state_dir
    from ingest.synthetic import STORIES, generate, write_jsonl
    from metrics.decisions import last_closed_week, verdict
    from metrics.registry import compute
    from routewatch.maintenance import compact

    store = open_store(settings)
    # The window ends at today's midnight, so running the demo twice on one day loads nothing twice.
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    say(f"generating {args.rows:,} synthetic requests (seed {args.seed}) ending {end:%Y-%m-%d} ...")
    frame = generate(args.rows, seed=args.seed, end=end)
    directory = state_dir(store)
    directory.mkdir(parents=True, exist_ok=True)
    # Beside the store under a fixed name, so Data health names the demo's batches by it; removed once loaded.
    path = write_jsonl(frame, directory / "demo-traffic.jsonl")
    del frame
    try:
        report = ingest(store, [str(path)], progress=file_progress if interactive() else None)
    finally:
        path.unlink(missing_ok=True)
    summary = report.as_json()
    say(
        f"loaded {summary['loaded']:,}, quarantined {summary['quarantined']:,}, duplicates {summary['duplicates']:,}"
        f" into {store.display}"
    )
    compact(store)
    say("planted stories (see ingest/synthetic.py):\n" + "\n".join(f"  - {story}" for story in STORIES))
    print("\nWhat a resolved request really costs, by route:")
    output.write(compute(store, "cost_per_resolved", by=["route"]), "table")
    print("\nEscalation and resolution by language:")
    escalation = compute(store, "escalation_rate", by=["language"])
    resolution = compute(store, "resolution_rate", by=["language"])
    output.write(escalation.merge(resolution[["language", "resolution_rate"]], on="language"), "table")
    run = decide(store, DEMO_DIMENSIONS)
    say(f"decided {len(run.windows)} closed day(s): {run.confirmed} confirmed gaps, {run.warnings} early warnings")
    opened = open_alerts(store, settings)
    say(
        f"opened {opened} alert(s), on the dashboard's Alerts page; nobody is told until routewatch.toml names "
        "recipients (README, Alerts)"
    )
    found = verdict(store, DEMO_DIMENSIONS, *last_closed_week(end.date()))
    print(f"\nSecond-class users over {found.describe()}:")
    for row in found.users.itertuples():
        print(f"  [{row.severity}] {row.evidence}")
    if found.users.empty:
        print("  none confirmed")
    if args.no_serve:
        say("next: routewatch dashboard | routewatch gaps --by language | routewatch metrics latency --by route")
        return EXIT_OK
    return serve_dashboard(settings, args.port)


def open_alerts(store: Store, settings: Settings) -> int:
    """Evaluate the decided days against the alert rules (``routewatch alerts run`` without its delivery), so the
    Alerts page has the demo's incidents; the number of alerts opened."""
    from alerts.job import evaluate_and_record
    from alerts.rules import load_rules
    from alerts.state import open_state, state_url

    engine = open_state(state_url(settings))
    try:
        plan = evaluate_and_record(engine, store, settings, load_rules(settings), chart=False)
    finally:
        engine.dispose()
    return sum(change.kind == "new" for change in plan.evaluation.changes)


def register(sub: Any, parents: Parents) -> None:
    """Add ``demo`` to the command line."""
    demo = sub.add_parser("demo", parents=[parents.common], help="synthetic traffic -> store -> dashboard")
    demo.add_argument("--rows", type=int, default=400_000, help="requests of synthetic traffic (default 400,000)")
    demo.add_argument("--seed", type=int, default=42, help="random seed of the traffic (default 42)")
    demo.add_argument("--port", type=int, default=8501, help="the dashboard's port (default 8501)")
    demo.add_argument("--no-serve", action="store_true", help="load and judge the traffic, then stop (no dashboard)")
    demo.set_defaults(run=cmd_demo)

"""``alerts check``, ``alerts run`` and ``alerts preview``: the rules, the alert job and its emails."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

from cli.common import EXIT_ERROR, EXIT_OK, CommandError, Parents, open_store, say
from routewatch.settings import Settings

LOG = logging.getLogger("routewatch.alerts")


def cmd_alerts(args: argparse.Namespace, settings: Settings) -> int:
    """Check the rules, preview the next emails, or run the job (judge, evaluate, deliver)."""
    from alerts import job
    from alerts.rules import RuleError, load_rules

    quiet_logging()
    try:
        rules = job.with_recipient(load_rules(settings), getattr(args, "to", None))
    except RuleError as exc:
        raise CommandError(str(exc)) from None
    if args.action == "check":
        recipients = ", ".join(f"{r.address} ({r.schedule})" for r in rules.recipients) or "nobody"
        print(
            f"rules are valid: {', '.join(rules.metrics)} on {', '.join(rules.dimensions)}, statuses "
            f"{', '.join(rules.statuses)}, at least {rules.min_users} users; mail to {recipients}; "
            f"{len(rules.webhooks)} webhook(s)"
        )
        for warning in rules.warnings:
            say(f"warning: {warning}")
        return EXIT_OK
    for warning in rules.warnings:
        LOG.warning("%s", warning)
    store = open_store(settings)
    if args.action == "preview":
        if not rules.recipients:
            say("no email recipient: set ROUTEWATCH_ALERT_TO or add [[alerts.recipients]] to routewatch.toml")
        written = job.preview(store, settings, rules, Path(args.out))
        say(f"wrote {len(written)} file(s) to {args.out}" if written else "nothing to send")
        for path in written:
            print(path)
        return EXIT_OK
    if args.dry_run:
        from alerts.state import open_state_unchanged, state_url

        engine, why = open_state_unchanged(state_url(settings, create=False))
        if why:
            say(why)
        plan = job.evaluate_and_record(engine, store, settings, rules, commit=False)
        for line in plan.notes(dry_run=True):
            say(line)
        say(f"dry run: {len(plan.windows)} window(s) to evaluate, {len(plan.evaluation.changes)} change(s), "
            "nothing recorded or sent")  # fmt: skip
        for message in plan.messages:
            print(f"{message.channel}\t{message.target}\t{message.subject}")
        return EXIT_OK
    report = job.run(store, settings, rules)
    delivery = report.delivery
    for line in report.summary():
        LOG.info("%s", line)
    if delivery.failed:
        LOG.error("%d message(s) stay in the outbox; the next run tries them again", len(delivery.failed))
        return EXIT_ERROR
    return EXIT_OK


def quiet_logging() -> None:
    """routewatch's own lines with a UTC time (an hourly log can be read back); the libraries' chatter (Alembic's
    plugins, the chart renderer's browser) only when it is a warning."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger("routewatch").setLevel(logging.INFO)
    for chatty in ("alembic", "kaleido", "choreographer", "logistro", "httpx"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


def register(sub: Any, parents: Parents) -> None:
    """Add ``alerts check|run|preview`` to the command line."""
    alerts = sub.add_parser("alerts", help="alert rules, the alert job and its emails")
    actions = alerts.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser("check", parents=[parents.common], help="validate the [alerts] rules of routewatch.toml")
    check.set_defaults(run=cmd_alerts)
    run = actions.add_parser(
        "run", parents=[parents.common], help="judge closed days, evaluate the rules, deliver (safe every hour)"
    )
    run.add_argument("--dry-run", action="store_true", help="list what would be sent; record and send nothing")
    run.add_argument("--to", metavar="ADDR", help="send every email to this address instead of the rules' recipients")
    run.set_defaults(run=cmd_alerts)
    preview = actions.add_parser("preview", parents=[parents.common], help="write the next emails as .eml and .html")
    preview.add_argument("--out", required=True, metavar="DIR")
    preview.set_defaults(run=cmd_alerts)

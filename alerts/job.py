"""The alert job: judge the closed days not judged yet, evaluate the rules on the new verdicts, record what to
tell in the outbox, then deliver it. Safe to run every hour and twice at once.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.delivery import DeliveryReport, Retry, deliver, email_body, record
from alerts.lifecycle import AlreadyEvaluated, Change, Evaluation, evaluate, incident_table, windows_to_evaluate
from alerts.message import AlertItem, Digest, Underpowered, compose, dashboard_link, requests_to_decide, sentence
from alerts.rules import Recipient, Rules, Subscription, check_address
from alerts.state import incidents, open_state, open_state_unchanged, outbox, state_url
from alerts.verdicts import decided_windows, decisions_since, period, segment_reach
from metrics.gaps import Status
from routewatch.settings import Settings
from routewatch.store import Store

LOG = logging.getLogger("routewatch.alerts")


@dataclass(frozen=True)
class Outgoing:
    """A message ready for the outbox."""

    key: str
    channel: str
    target: str
    subject: str
    body: str


@dataclass(frozen=True)
class Plan:
    """What an evaluation found and the messages it calls for (recorded in the outbox unless a preview)."""

    evaluation: Evaluation
    messages: list[Outgoing]

    @property
    def windows(self) -> list[date]:
        return self.evaluation.windows

    def notes(self, dry_run: bool = False) -> list[str]:
        """What a person should know about how the windows were evaluated: a first run that caught up with a long
        history, and windows judged again (``dry_run``: said of what a run would do)."""
        notes = []
        caught_up = self.windows[:-1] if self.evaluation.first else []
        if caught_up:
            done = "would be evaluated and recorded" if dry_run else "were evaluated and recorded"
            notes.append(
                f"first run: {len(caught_up)} older decided day(s) ({caught_up[0]} to {caught_up[-1]}) {done} "
                f"as seen without a message each; the messages tell what is open as of {self.windows[-1]}"
            )
        if self.evaluation.rejudged:
            days = self.evaluation.rejudged
            notes.append(
                f"{len(days)} day(s) judged again since they were evaluated ({days[0]} to {days[-1]}): only their "
                "changed verdicts were evaluated again"
            )
        return notes


@dataclass
class JobReport:
    """What one ``alerts run`` did."""

    judged: list[date]
    evaluated: list[date]
    changes: int
    recorded: int
    delivery: DeliveryReport
    notes: list[str]

    def summary(self) -> list[str]:
        """The run's output, one line each."""
        delivery = self.delivery
        return [
            *self.notes,
            f"judged {len(self.judged)} day(s), evaluated {len(self.evaluated)} window(s): {self.changes} change(s), "
            f"{self.recorded} message(s) recorded; sent {len(delivery.sent)}, failed {len(delivery.failed)}"
            + (f", {len(delivery.busy)} being sent by another run" if delivery.busy else ""),
        ]


def judge(store: Store, rules: Rules, now: datetime | None = None) -> list[date]:
    """Judge every closed day not judged yet on the rules' dimensions (``routewatch decide``); the days judged."""
    from alerts.judge import decide
    from routewatch.migrations import migrate

    migrate(store)
    return decide(store, list(rules.dimensions), now=now).windows


def _notices(changes: Sequence[Change], first: date | None = None) -> dict[int, tuple[str, date]]:
    """Each changed incident's notice for this run: an alert opened and closed within one run is not told. On a
    first run (``first``: its newest window) every notice is told as of that window, so that a long history
    gives one message, not one per decided day."""
    kinds: dict[int, list[Change]] = defaultdict(list)
    for change in changes:
        kinds[change.incident_id].append(change)
    notices: dict[int, tuple[str, date]] = {}
    for incident_id, seen in kinds.items():
        opened = any(c.kind == "new" for c in seen)
        if opened and seen[-1].kind == "resolved":
            continue
        notices[incident_id] = ("new" if opened else seen[-1].kind, first or seen[-1].window)
    return notices


def _incidents(connection: sa.Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    rows = connection.execute(sa.select(incidents).where(incidents.c.id.in_(list(ids)))).mappings()
    return {row["id"]: dict(row) for row in rows}


def _items(store: Store, settings: Settings, found: Sequence[tuple[str, dict[str, Any]]]) -> list[AlertItem]:
    """Alert items with who each segment is over the week up to its last window (one store read per window)."""
    by_window: dict[date, list[tuple[str, str, str]]] = defaultdict(list)
    for _, incident in found:
        by_window[incident["last_window"]].append((incident["dimension"], incident["segment"], incident["reference"]))
    reach = {}
    for window, contrasts in by_window.items():
        since, until = period(window, weekly=True)
        for key, value in segment_reach(store, contrasts, since, until, settings.route_order[0]).items():
            reach[(window, *key)] = value
    return [
        AlertItem(kind, incident, reach.get((incident["last_window"], incident["dimension"], incident["segment"])))
        for kind, incident in found
    ]


def _message_id(key: str) -> str:
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@routewatch>"


def _email(key: str, recipient: str, settings: Settings, items: Sequence[AlertItem], digest: Digest | None = None,
           chart: bool = True) -> Outgoing:  # fmt: skip
    message = compose(
        items,
        sender=settings.mail_from,
        recipient=recipient,
        dashboard_url=settings.dashboard_url,
        digest=digest,
        chart=chart,
    )
    message["Message-ID"] = _message_id(key)
    return Outgoing(key, "email", recipient, str(message["Subject"]), email_body(message))


def _webhook_body(fmt: str, items: Sequence[AlertItem], settings: Settings, title: str) -> str:
    if fmt == "slack":
        links = [dashboard_link(settings.dashboard_url, item.incident) for item in items]
        lines = [f"*{_slack_text(title)}*"] + [
            f"• {item.kind}: {_slack_text(sentence(item))} <{link}|open>"
            for item, link in zip(items, links, strict=True)
        ]
        return orjson.dumps({"text": "\n".join(lines)}).decode()
    alerts = [
        {
            "event": item.kind,
            "url": dashboard_link(settings.dashboard_url, item.incident),
            "summary": sentence(item),
            **{
                str(k): (v.isoformat() if isinstance(v, date | datetime) else v)
                for k, v in item.incident.items()
                if k not in ("notified_gap", "notified_severity")
            },
        }
        for item in items
    ]
    return orjson.dumps({"source": "routewatch", "title": title, "alerts": alerts}).decode()


def _slack_text(text: str) -> str:
    """Text for Slack's mrkdwn, where &, < and > are control characters (a segment name is data)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _underpowered(decisions: pd.DataFrame, window: date, rules: Rules, recipient: Subscription) -> list[Underpowered]:
    rows = decisions[(decisions["window_start"] == window) & (decisions["status"] == Status.UNDERPOWERED.value)]
    found = []
    for row in rows.itertuples(index=False):
        if (
            row.dimension in rules.dimensions
            and row.metric in rules.metrics
            and recipient.wants(row.dimension, row.segment, row.metric)
        ):
            low = None if pd.isna(row.ci_low) else float(row.ci_low)
            high = None if pd.isna(row.ci_high) else float(row.ci_high)
            needed = requests_to_decide(int(row.requests), low, high, row.metric)
            found.append(Underpowered(row.dimension, row.segment, row.metric, int(row.requests), needed))
    return found


def _again(evaluation: Evaluation, decisions: pd.DataFrame) -> str:
    """The outbox key suffix of a run that evaluated windows judged again (their messages are new ones): when
    they were judged; empty otherwise."""
    if not evaluation.rejudged:
        return ""
    rows = decisions[decisions["window_start"].isin(evaluation.rejudged)]
    return f":judged-again:{pd.Timestamp(rows['decided_at'].max()).isoformat()}"


def plan_messages(
    connection: sa.Connection,
    store: Store,
    settings: Settings,
    rules: Rules,
    evaluation: Evaluation,
    decisions: pd.DataFrame,
    chart: bool = True,
) -> list[Outgoing]:
    """The emails and webhook bodies that an evaluation calls for: one email a run to each immediate subscriber,
    one per decided day with news to each daily one, a digest on each newly closing Sunday to each weekly one
    (even when nothing is new), and one body a run to each webhook. A first run over a long history tells what
    is open as of its newest window only: one daily email, the newest Sunday's digest."""
    check_address("ROUTEWATCH_MAIL_FROM", settings.mail_from)
    windows = evaluation.windows
    last = max(windows) if windows else None
    notices = _notices(evaluation.changes, last if evaluation.first else None)
    rows = _incidents(connection, list(notices))
    changed = _items(store, settings, [(notices[i][0], rows[i]) for i in sorted(notices)])
    windows_of = {item.incident["id"]: notices[item.incident["id"]][1] for item in changed}
    sundays = [w for w in windows if w.isoweekday() == 7 and w not in evaluation.rejudged]
    if evaluation.first:
        sundays = sundays[-1:]
    again = _again(evaluation, decisions)
    messages: list[Outgoing] = []
    for recipient in rules.subscriptions():
        mine = [
            i for i in changed if recipient.wants(i.incident["dimension"], i.incident["segment"], i.incident["metric"])
        ]
        if recipient.schedule == "immediate" and mine:
            messages.append(_email(f"immediate:{recipient.address}:{last}{again}", recipient.address, settings, mine,
                                   chart=chart))  # fmt: skip
        elif recipient.schedule == "daily":
            for window in sorted({windows_of[i.incident["id"]] for i in mine}):
                today = [i for i in mine if windows_of[i.incident["id"]] == window]
                messages.append(_email(f"daily:{recipient.address}:{window}{again}", recipient.address, settings,
                                       today, chart=chart))  # fmt: skip
        elif recipient.schedule == "weekly":
            for sunday in sundays:
                messages.append(_weekly(connection, store, settings, rules, recipient, sunday, decisions, chart))
    if changed:
        for webhook in rules.webhooks:
            title = f"routewatch: {len(changed)} alert change(s) up to {last}"
            body = _webhook_body(webhook.format, changed, settings, title)
            messages.append(Outgoing(f"webhook:{webhook.name}:{last}{again}", "webhook", webhook.name, title, body))
    return messages


def _weekly(
    connection: sa.Connection,
    store: Store,
    settings: Settings,
    rules: Rules,
    recipient: Subscription,
    sunday: date,
    decisions: pd.DataFrame,
    chart: bool,
) -> Outgoing:
    """The weekly digest that the ISO week ending on ``sunday`` closes."""
    monday = sunday - timedelta(days=6)
    frame = incident_table(connection)

    def wanted(state: str) -> list[tuple[str, dict[str, Any]]]:
        rows = frame[frame["state"] == state] if not frame.empty else frame
        if state == "resolved" and not rows.empty:
            rows = rows[(rows["resolved_window"] >= monday) & (rows["resolved_window"] <= sunday)]
        return [
            (("open" if state == "open" else "resolved"), {k: (None if pd.isna(v) else v) for k, v in row.items()})
            for row in rows.to_dict("records")
            if recipient.wants(row["dimension"], row["segment"], row["metric"])
        ]

    still = _items(store, settings, wanted("open"))
    closed = _items(store, settings, wanted("resolved"))
    digest = Digest(monday, closed, _underpowered(decisions, sunday, rules, recipient))
    return _email(f"weekly:{recipient.address}:{sunday}", recipient.address, settings, still, digest, chart)


def _first_pending(engine: Engine, store: Store) -> date | None:
    """The oldest decided window that is new to the alerts or judged again since they evaluated it."""
    with engine.connect() as connection:
        new, rejudged = windows_to_evaluate(connection, decided_windows(store))
    pending = [*new, *rejudged]
    return min(pending) if pending else None


def evaluate_and_record(
    engine: Engine, store: Store, settings: Settings, rules: Rules, *, chart: bool = True, commit: bool = True
) -> Plan:
    """Evaluate the verdicts not evaluated yet (and those of windows judged again) and put the messages they call
    for in the outbox, in one transaction (rolled back when ``commit`` is false: a preview). Nothing when another
    run evaluated the same windows first."""
    nothing = Plan(Evaluation([], []), [])
    first = _first_pending(engine, store)
    if first is None:
        return nothing
    decisions = decisions_since(store, first - timedelta(days=1))
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            evaluation = evaluate(connection, decisions, rules)
            messages = plan_messages(connection, store, settings, rules, evaluation, decisions, chart)
            keys = [message.key for message in messages]
            twice = sorted({key for key in keys if keys.count(key) > 1})
            if twice:  # one would be dropped by the outbox's unique key: refuse rather than lose it
                raise ValueError(f"two messages of one run share an outbox key: {', '.join(twice)}")
            for message in messages:
                record(connection, key=message.key, channel=message.channel, target=message.target,
                       subject=message.subject, body=message.body)  # fmt: skip
        except AlreadyEvaluated:
            transaction.rollback()
            LOG.info("another run evaluated these windows first")
            return nothing
        except BaseException:
            transaction.rollback()
            raise
        if commit:
            transaction.commit()
        else:
            transaction.rollback()
    return Plan(evaluation, messages)


def run(
    store: Store,
    settings: Settings,
    rules: Rules,
    *,
    now: datetime | None = None,
    retry: Retry | None = None,
    chart: bool = True,
    engine: Engine | None = None,
) -> JobReport:
    """``routewatch alerts run``: judge, evaluate, record, deliver (what failed before is sent too)."""
    judged = judge(store, rules, now)
    engine = engine or open_state(state_url(settings))
    plan = evaluate_and_record(engine, store, settings, rules, chart=chart)
    report = deliver(engine, settings, rules, retry)
    return JobReport(judged, plan.windows, len(plan.evaluation.changes), len(plan.messages), report, plan.notes())


def preview(store: Store, settings: Settings, rules: Rules, out: Path, engine: Engine | None = None) -> list[Path]:
    """Write the next emails as .eml and .html files in ``out`` without sending or changing any state: the
    unsent messages of the outbox, then those the stored verdicts not evaluated yet would add."""
    import email
    from email import policy

    if engine is None:
        engine, why = open_state_unchanged(state_url(settings, create=False))
        if why:
            LOG.info("%s", why)
    planned = evaluate_and_record(engine, store, settings, rules, commit=False).messages
    with engine.connect() as connection:
        waiting = connection.execute(
            sa.select(outbox.c.key, outbox.c.channel, outbox.c.target, outbox.c.subject, outbox.c.body)
            .where(outbox.c.sent_at.is_(None))
            .order_by(outbox.c.id)
        ).all()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for message in [*(Outgoing(*row) for row in waiting), *planned]:
        if message.channel != "email":
            continue
        stem = out / hashlib.sha256(message.key.encode()).hexdigest()[:12]
        eml = stem.with_suffix(".eml")
        eml.write_text(message.body, encoding="utf-8", newline="")
        parsed = email.message_from_string(message.body, policy=policy.default)
        body = parsed.get_body(("html",))
        if body is not None:
            page = stem.with_suffix(".html")
            page.write_text(_inline_images(parsed, body.get_content()), encoding="utf-8")
            written.append(page)
        written.append(eml)
    return written


def _inline_images(message: Any, page: str) -> str:
    """The HTML with each ``cid:`` image as a data URL, so that a browser shows it from the file alone."""
    for part in message.walk():
        cid = str(part.get("Content-ID", "")).strip("<>")
        if cid and part.get_content_maintype() == "image":
            data = base64.b64encode(part.get_payload(decode=True)).decode()
            page = page.replace(f"cid:{cid}", f"data:{part.get_content_type()};base64,{data}")
    return page


def with_recipient(rules: Rules, address: str | None) -> Rules:
    """The rules with every email going to ``address`` instead (``alerts run --to``), immediately."""
    if not address:
        return rules
    return replace(rules, recipients=(Recipient(address=check_address("--to", address)),))

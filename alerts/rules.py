"""Alert rules: the ``[alerts]`` table of routewatch.toml, with defaults when it is absent, checked strictly.

```toml
[alerts]
metrics = ["resolution_rate", "thumbs_up_rate", "escalation_rate", "error_rate"]
dimensions = ["language", "channel", "tier"]
min_users = 30
statuses = ["confirmed"]            # add "warning" for the CUSUM's early warnings

[[alerts.recipients]]               # default: ROUTEWATCH_ALERT_TO, everything, immediately
address = "pm-hindi@example.com"
dimensions = ["language"]           # optional: narrows what this person receives
segments = ["hi"]
metrics = ["resolution_rate", "thumbs_up_rate"]
schedule = "immediate"              # or "daily" (one email per decided day), "weekly" (a digest every ISO week)

[[alerts.webhooks]]
name = "fairness-channel"
format = "slack"                    # Slack's incoming-webhook JSON, or "json" (a generic body)
url_env = "ROUTEWATCH_SLACK_WEBHOOK_URL"   # the URL is a secret: read from this environment variable
```
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal, get_args

from metrics.dimensions import DimensionError, expression
from metrics.gaps import ALL_METRICS, Status
from metrics.gaps import DEFAULT_METRICS as GAP_DEFAULT_METRICS
from routewatch.settings import Settings, config_file, read_config

Schedule = Literal["immediate", "daily", "weekly"]
WebhookFormat = Literal["slack", "json"]
SCHEDULES: tuple[str, ...] = get_args(Schedule)
WEBHOOK_FORMATS: tuple[str, ...] = get_args(WebhookFormat)
ALERTING_STATUSES = (Status.CONFIRMED.value, Status.WARNING.value)
# The metrics ``routewatch decide`` judges every day: only these can ever alert.
DECIDED_METRICS: tuple[str, ...] = tuple(GAP_DEFAULT_METRICS)
# The defaults: the quality metrics that decide judges and the escalation rate, on language, channel and tier.
DEFAULT_METRICS = ("resolution_rate", "thumbs_up_rate", "escalation_rate")
DEFAULT_DIMENSIONS = ("language", "channel", "tier")


class RuleError(ValueError):
    """A rule routewatch cannot use; the message names the file, the key and the value."""


@dataclass(frozen=True, kw_only=True)
class Recipient:
    """One email address and what it subscribes to (empty tuples: everything the rules watch)."""

    address: str
    dimensions: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    schedule: Schedule = "immediate"

    def wants(self, dimension: str, segment: str, metric: str) -> bool:
        """Whether an alert on this contrast is for this recipient."""
        return (
            (not self.dimensions or dimension in self.dimensions)
            and (not self.segments or segment in self.segments)
            and (not self.metrics or metric in self.metrics)
        )


@dataclass(frozen=True, kw_only=True)
class Subscription:
    """Every recipient entry with one address and one schedule, merged: one email each time holds what any of
    them subscribes to (two entries for one person never make two messages under one outbox key)."""

    address: str
    schedule: Schedule
    entries: tuple[Recipient, ...]

    def wants(self, dimension: str, segment: str, metric: str) -> bool:
        """Whether any of the merged entries wants an alert on this contrast."""
        return any(entry.wants(dimension, segment, metric) for entry in self.entries)


@dataclass(frozen=True, kw_only=True)
class Webhook:
    """A webhook target; its URL is read from the environment when delivering and never logged."""

    name: str
    format: WebhookFormat = "json"
    url_env: str = ""
    url: str = ""

    def resolve_url(self) -> str:
        """The URL to post to (from ``url_env`` or ``url``); empty when unset."""
        return os.environ.get(self.url_env, "") if self.url_env else self.url


@dataclass(frozen=True, kw_only=True)
class Rules:
    """What the alert job watches and whom it tells."""

    metrics: tuple[str, ...] = DEFAULT_METRICS
    dimensions: tuple[str, ...] = DEFAULT_DIMENSIONS
    min_users: int = 30
    statuses: tuple[str, ...] = (Status.CONFIRMED.value,)
    recipients: tuple[Recipient, ...] = ()
    webhooks: tuple[Webhook, ...] = field(default=())
    warnings: tuple[str, ...] = ()  # what the rules allow but will not do as one may expect (``alerts check``)

    def subscriptions(self) -> tuple[Subscription, ...]:
        """The recipients merged by address and schedule, in the order of their first entry."""
        merged: dict[tuple[str, str], list[Recipient]] = {}
        for recipient in self.recipients:
            merged.setdefault((recipient.address.lower(), recipient.schedule), []).append(recipient)
        return tuple(
            Subscription(address=entries[0].address, schedule=entries[0].schedule, entries=tuple(entries))
            for entries in merged.values()
        )

    def watches(self, dimension: str, metric: str, status: str, users: int) -> bool:
        """Whether a decided contrast with this status and this many users is an alert under these rules."""
        return (
            dimension in self.dimensions
            and metric in self.metrics
            and status in self.statuses
            and users >= self.min_users
        )


_TOP_KEYS = {"metrics", "dimensions", "min_users", "statuses", "recipients", "webhooks"}
_RECIPIENT_KEYS = {"address", "dimensions", "segments", "metrics", "schedule"}
_WEBHOOK_KEYS = {"name", "format", "url_env", "url"}


def _names(where: str, key: str, raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise RuleError(f"{where}: {key} must be a list of strings, not {raw!r}")
    return tuple(raw)


def _check_keys(where: str, table: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise RuleError(f"{where} must be a table, not {table!r}")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise RuleError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    return table


def _check_metrics(where: str, metrics: tuple[str, ...]) -> tuple[str, ...]:
    for metric in metrics:
        if metric not in ALL_METRICS:
            raise RuleError(f"{where}: unknown metric {metric!r} (choose from {', '.join(ALL_METRICS)})")
    return metrics


def _check_dimensions(where: str, dimensions: tuple[str, ...]) -> tuple[str, ...]:
    for dimension in dimensions:
        try:
            expression(dimension, "rule", {})
        except DimensionError as exc:
            raise RuleError(f"{where}: {exc}") from None
    return dimensions


def check_address(where: str, address: str) -> str:
    """``address`` if it is one plain email address (no display name, no line break), else a RuleError."""
    name, parsed = parseaddr(address)
    if any(c in address for c in "\r\n,") or name or parsed != address or "@" not in parsed:
        raise RuleError(f"{where}: {address!r} is not one email address")
    return address


def _recipient(where: str, table: Any) -> Recipient:
    table = _check_keys(where, table, _RECIPIENT_KEYS)
    if "address" not in table:
        raise RuleError(f"{where}: address is required")
    schedule = table.get("schedule", "immediate")
    if schedule not in SCHEDULES:
        raise RuleError(f"{where}: schedule must be one of {', '.join(SCHEDULES)}, not {schedule!r}")
    return Recipient(
        address=check_address(where, str(table["address"])),
        dimensions=_check_dimensions(where, _names(where, "dimensions", table.get("dimensions", []))),
        segments=_names(where, "segments", table.get("segments", [])),
        metrics=_check_metrics(where, _names(where, "metrics", table.get("metrics", []))),
        schedule=schedule,
    )


def _webhook(where: str, table: Any) -> Webhook:
    table = _check_keys(where, table, _WEBHOOK_KEYS)
    fmt = table.get("format", "json")
    if fmt not in WEBHOOK_FORMATS:
        raise RuleError(f"{where}: format must be one of {', '.join(WEBHOOK_FORMATS)}, not {fmt!r}")
    if not table.get("name"):
        raise RuleError(f"{where}: name is required")
    if table.get("url_env") and table.get("url"):
        raise RuleError(f"{where}: give url_env (an environment variable holding the URL) or url, not both")
    if not table.get("url_env") and not table.get("url"):
        raise RuleError(f"{where}: url_env is required (the environment variable that holds the webhook's URL)")
    return Webhook(name=str(table["name"]), format=fmt, url_env=str(table.get("url_env", "")), url=table.get("url", ""))


def parse_rules(table: dict[str, Any], settings: Settings, source: str = "routewatch.toml") -> Rules:
    """Rules from the ``[alerts]`` table (may be empty: the defaults), recipients defaulting to
    ``ROUTEWATCH_ALERT_TO`` (comma-separated). Raises RuleError naming the wrong key, metric or dimension."""
    where = f"{source} [alerts]"
    table = _check_keys(where, table, _TOP_KEYS)
    statuses = _names(where, "statuses", table.get("statuses", [Status.CONFIRMED.value]))
    for status in statuses:
        if status not in ALERTING_STATUSES:
            raise RuleError(f"{where}: statuses may be {' and '.join(ALERTING_STATUSES)}, not {status!r}")
    min_users = table.get("min_users", 30)
    if not isinstance(min_users, int) or isinstance(min_users, bool) or min_users < 0:
        raise RuleError(f"{where}: min_users must be a whole number >= 0, not {min_users!r}")
    recipients = tuple(
        _recipient(f"{where} recipients[{i}]", item) for i, item in enumerate(table.get("recipients", []))
    )
    if not recipients:
        recipients = tuple(
            Recipient(address=check_address("ROUTEWATCH_ALERT_TO", address.strip()))
            for address in settings.alert_to.split(",")
            if address.strip()
        )
    webhooks = tuple(_webhook(f"{where} webhooks[{i}]", item) for i, item in enumerate(table.get("webhooks", [])))
    named: dict[str, int] = {}
    for i, webhook in enumerate(webhooks):
        if webhook.name in named:
            raise RuleError(
                f"{where} webhooks[{i}]: name {webhook.name!r} is already webhooks[{named[webhook.name]}]'s; "
                "give each webhook its own name (its messages are kept by name)"
            )
        named[webhook.name] = i
    rules = Rules(
        metrics=_check_metrics(where, _names(where, "metrics", table.get("metrics", list(DEFAULT_METRICS)))),
        dimensions=_check_dimensions(
            where, _names(where, "dimensions", table.get("dimensions", list(DEFAULT_DIMENSIONS)))
        ),
        min_users=min_users,
        statuses=statuses,
        recipients=recipients,
        webhooks=webhooks,
    )
    return replace(rules, warnings=tuple(rule_warnings(rules, where, from_table="recipients" in table)))


def rule_warnings(rules: Rules, where: str = "[alerts]", from_table: bool = True) -> list[str]:
    """What the rules allow but can never do: a metric that ``routewatch decide`` does not judge, a recipient
    whose subscription matches nothing the rules watch, a webhook whose URL variable is unset, nobody to tell."""
    warnings = []
    undecided = [m for m in rules.metrics if m not in DECIDED_METRICS]
    if undecided:
        warnings.append(
            f"{where}: metrics {', '.join(undecided)} are not judged by routewatch decide (it judges "
            f"{', '.join(DECIDED_METRICS)}), so they never alert"
        )
    alerting = [m for m in rules.metrics if m in DECIDED_METRICS]
    if not alerting:
        warnings.append(f"{where}: no metric that can alert is watched: nothing will ever be sent")
    for i, recipient in enumerate(rules.recipients):
        who = f"{where} recipients[{i}] ({recipient.address})" if from_table else recipient.address
        metrics = [m for m in recipient.metrics if m not in alerting]
        dimensions = [d for d in recipient.dimensions if d not in rules.dimensions]
        if recipient.metrics and len(metrics) == len(recipient.metrics):
            warnings.append(
                f"{who} subscribes to {', '.join(metrics)}, which the rules never alert on (watched and judged: "
                f"{', '.join(alerting) or 'none'}): this recipient can never receive an alert"
            )
        elif metrics:
            warnings.append(f"{who}: {', '.join(metrics)} never alert (not watched or not judged by decide)")
        if recipient.dimensions and len(dimensions) == len(recipient.dimensions):
            warnings.append(
                f"{who} subscribes to dimensions {', '.join(dimensions)}, which [alerts] dimensions does not watch: "
                "this recipient can never receive an alert"
            )
    for i, webhook in enumerate(rules.webhooks):
        if webhook.url_env and not os.environ.get(webhook.url_env):
            warnings.append(
                f"{where} webhooks[{i}] ({webhook.name}): environment variable {webhook.url_env} is not set here, "
                "so its messages would fail"
            )
        if webhook.url:
            warnings.append(
                f"{where} webhooks[{i}] ({webhook.name}): the URL is written in the file; a webhook URL is a "
                "secret, give url_env (the environment variable that holds it) instead"
            )
    if not rules.recipients and not rules.webhooks:
        warnings.append(
            "nobody receives alerts: set ROUTEWATCH_ALERT_TO or add [[alerts.recipients]] or [[alerts.webhooks]]"
        )
    return warnings


def load_rules(settings: Settings, path: Path | None = None) -> Rules:
    """The rules of ``path`` (default: the configuration file, see ``routewatch.settings.config_file``)."""
    path = path or config_file()
    return parse_rules(read_config(path).get("alerts", {}), settings, source=str(path))

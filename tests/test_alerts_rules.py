"""Alert rules: defaults, the routewatch.toml table, clear errors, and `routewatch alerts check`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alerts.rules import DEFAULT_DIMENSIONS, DEFAULT_METRICS, RuleError, load_rules, parse_rules
from alerts.state import state_url
from routewatch.settings import Settings, load_settings
from tests.conftest import run_cli

RULES_TOML = """
store = "chdb:///tmp/unused"

[alerts]
metrics = ["resolution_rate", "latency_p95", "cost_per_request"]
dimensions = ["language", "segments.client"]
min_users = 50
statuses = ["confirmed", "warning"]

[[alerts.recipients]]
address = "pm-hindi@example.com"
dimensions = ["language"]
segments = ["hi"]
schedule = "weekly"

[[alerts.recipients]]
address = "platform@example.com"
metrics = ["latency_p95", "cost_per_request"]

[[alerts.webhooks]]
name = "fairness"
format = "slack"
url_env = "ROUTEWATCH_SLACK_WEBHOOK_URL"
"""


def test_defaults_watch_quality_and_escalation_and_mail_alert_to() -> None:
    rules = parse_rules({}, Settings(alert_to="lead@example.com, pm@example.com"))
    assert rules.metrics == DEFAULT_METRICS and rules.dimensions == DEFAULT_DIMENSIONS
    assert rules.statuses == ("confirmed",)
    assert [(r.address, r.schedule) for r in rules.recipients] == [
        ("lead@example.com", "immediate"),
        ("pm@example.com", "immediate"),
    ]
    assert rules.watches("language", "resolution_rate", "confirmed", 30)
    assert not rules.watches("language", "resolution_rate", "warning", 30)
    assert not rules.watches("region", "resolution_rate", "confirmed", 30)


def test_the_toml_table_with_subscriptions(tmp_path: Path) -> None:
    path = tmp_path / "routewatch.toml"
    path.write_text(RULES_TOML)
    load_settings(config_path=path)  # the settings loader accepts the [alerts] table
    rules = load_rules(Settings(), path)
    assert rules.min_users == 50 and rules.statuses == ("confirmed", "warning")
    pm, lead = rules.recipients
    assert pm.schedule == "weekly" and pm.wants("language", "hi", "resolution_rate")
    assert not pm.wants("language", "es", "resolution_rate") and not pm.wants("tier", "hi", "resolution_rate")
    assert lead.wants("channel", "api", "latency_p95") and not lead.wants("channel", "api", "resolution_rate")
    assert rules.webhooks[0].format == "slack" and rules.webhooks[0].url_env == "ROUTEWATCH_SLACK_WEBHOOK_URL"


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ({"metric": ["resolution_rate"]}, "unknown key 'metric'"),
        ({"metrics": ["resolution"]}, "unknown metric 'resolution'"),
        ({"dimensions": ["langauge"]}, "unknown dimension 'langauge'"),
        ({"statuses": ["underpowered"]}, "not 'underpowered'"),
        ({"min_users": "many"}, "min_users"),
        ({"recipients": [{"address": "a@example.com", "schedule": "hourly"}]}, "recipients[0]: schedule"),
        ({"recipients": [{"address": "a@example.com\r\nBcc: x@evil.example"}]}, "not one email address"),
        ({"recipients": [{"adress": "a@example.com"}]}, "unknown key 'adress'"),
        ({"webhooks": [{"name": "w", "format": "teams", "url": "http://x"}]}, "format must be"),
        ({"webhooks": [{"name": "w"}]}, "url_env"),
    ],
)
def test_a_wrong_rule_is_a_clear_error_naming_it(table: dict, named: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rules(table, Settings(), source="team.toml")
    assert named in str(caught.value) and "team.toml [alerts]" in str(caught.value)


def test_alerts_check_validates_the_file(tmp_path: Path) -> None:
    path = tmp_path / "routewatch.toml"
    path.write_text(RULES_TOML)
    good = run_cli("alerts", "check", env_extra={"ROUTEWATCH_CONFIG": str(path)})
    assert good.returncode == 0, good.stderr
    assert "rules are valid" in good.stdout and "pm-hindi@example.com (weekly)" in good.stdout
    assert "ROUTEWATCH_SLACK_WEBHOOK_URL is not set here" in good.stderr  # a warning, not an error
    path.write_text(RULES_TOML.replace('"latency_p95", "cost_per_request"]\n\n[[alerts.webhooks]]',
                                       '"latency_p99"]\n\n[[alerts.webhooks]]'))  # fmt: skip
    bad = run_cli("alerts", "check", env_extra={"ROUTEWATCH_CONFIG": str(path)})
    assert bad.returncode == 1 and "unknown metric 'latency_p99'" in bad.stderr and "recipients[1]" in bad.stderr


def test_doctor_shows_the_state_database_without_its_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://routewatch:pg-pass-0f-state@db.example.com/routewatch"
    result = run_cli(
        "doctor", "--format", "json",
        env_extra={"ROUTEWATCH_STATE_DB": url, "ROUTEWATCH_STORE": f"chdb://{tmp_path / 'store'}"},
    )  # fmt: skip
    assert "pg-pass-0f-state" not in result.stdout + result.stderr
    rows = {row["check"]: row["value"] for row in json.loads(result.stdout)}
    assert rows["setting state_db"] == "postgresql+psycopg://routewatch:***@db.example.com/routewatch"


def test_two_stores_in_one_directory_get_two_alert_state_files(tmp_path: Path) -> None:
    """Trial finding 2: the default state database was the store's parent directory's alerts.sqlite, shared by
    every store there; each store now has its own, in its state directory."""
    urls = {name: state_url(Settings(store=f"chdb://{tmp_path / 'stores' / name}")) for name in ("a", "b")}
    assert urls == {
        "a": f"sqlite:///{tmp_path / 'stores' / 'a.state' / 'alerts.sqlite'}",
        "b": f"sqlite:///{tmp_path / 'stores' / 'b.state' / 'alerts.sqlite'}",
    }
    servers = {state_url(Settings(store=f"http://u:p@host:8123/{db}")) for db in ("one", "two")}
    assert len(servers) == 2
    shown = {
        row["check"]: row["value"]
        for row in json.loads(
            run_cli(
                "doctor", "--format", "json", env_extra={"ROUTEWATCH_STORE": f"chdb://{tmp_path / 'stores' / 'a'}"}
            ).stdout
        )
    }
    assert shown["setting state_db"] == urls["a"]

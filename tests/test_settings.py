"""Settings precedence, and a README that documents every setting and command."""

from __future__ import annotations

from pathlib import Path

import pytest

from routewatch.settings import ENVIRONMENT, SettingsError, load_settings
from tests.conftest import ROOT


def test_flags_beat_environment_beat_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "routewatch.toml"
    config.write_text('store = "chdb:///from/file"\nsmtp_port = 2525\nalert_to = "file@example.com"\n')
    monkeypatch.setenv("ROUTEWATCH_ALERT_TO", "env@example.com")
    monkeypatch.setenv("ROUTEWATCH_STORE", "chdb:///from/env")
    settings = load_settings({"store": "chdb:///from/flag"}, config_path=config)
    assert settings.store == "chdb:///from/flag"
    assert settings.alert_to == "env@example.com"
    assert settings.smtp_port == 2525


def test_bad_settings_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTEWATCH_SMTP_TLS", "maybe")
    with pytest.raises(SettingsError, match=r"^ROUTEWATCH_SMTP_TLS: must be none, starttls or ssl, not 'maybe'$"):
        load_settings(config_path=tmp_path / "absent.toml")
    monkeypatch.delenv("ROUTEWATCH_SMTP_TLS")
    monkeypatch.setenv("ROUTEWATCH_SMTP_PORT", "twenty-five")
    with pytest.raises(SettingsError, match=r"^ROUTEWATCH_SMTP_PORT: cannot read 'twenty-five' as a whole number$"):
        load_settings(config_path=tmp_path / "absent.toml")
    monkeypatch.delenv("ROUTEWATCH_SMTP_PORT")
    (tmp_path / "window.toml").write_text("reask_window_s = -5\n")
    with pytest.raises(SettingsError, match=r"window\.toml: reask_window_s: must be a positive number of seconds"):
        load_settings(config_path=tmp_path / "window.toml")
    (tmp_path / "bad.toml").write_text("colour = 'blue'\n")
    with pytest.raises(SettingsError, match="unknown settings"):
        load_settings(config_path=tmp_path / "bad.toml")


def test_the_readme_documents_every_setting_and_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Settings")[1].split("\n## ")[0]
    rows = [line for line in table.splitlines() if line.startswith("| `ROUTEWATCH_")]
    missing = [
        (variable, key)
        for key, variable in ENVIRONMENT.items()
        if not any(f"`{variable}`" in row.split(" | ")[0] and f"`{key}`" in row.split(" | ")[1] for row in rows)
    ]
    assert not missing, f"README's Settings table lacks (variable, routewatch.toml key) {missing}"
    for command in (
        "make demo",
        "make test",
        "routewatch ingest",
        "routewatch metrics",
        "routewatch sql",
        "routewatch doctor",
        "routewatch migrate",
    ):
        assert command in readme, command

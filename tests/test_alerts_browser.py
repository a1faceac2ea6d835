"""The dashboard's alerts page in a real browser: an email's link opens the alert; acknowledging it persists."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from alerts.lifecycle import evaluate
from alerts.rules import Rules
from alerts.state import incident_events, incidents, open_state
from routewatch.store import Store
from tests.browser import browser, chromium_path, dashboard, open_page
from tests.test_alerts_lifecycle import verdict

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"

pytestmark = pytest.mark.skipif(
    chromium_path() is None, reason="no Chromium on this machine (apt-get install chromium; .ci/run installs it)"
)


def test_an_alert_is_acknowledged_in_the_browser_and_stays_acknowledged(
    synthetic_store: tuple[Store, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = synthetic_store
    state_db = f"sqlite:///{tmp_path / 'alerts.sqlite'}"
    engine = open_state(state_db)
    rows = [verdict(date(2026, 10, 26), -0.05), verdict(date(2026, 10, 26), -0.07, segment="ta")]
    with engine.begin() as connection:
        evaluate(connection, pd.DataFrame(rows), Rules(dimensions=("language",)))
    with engine.connect() as connection:
        ta = connection.scalar(sa.select(incidents.c.id).where(incidents.c.segment == "ta"))
    monkeypatch.setenv("ROUTEWATCH_STATE_DB", state_db)
    with dashboard(store.dsn, tmp_path / "dashboard.log") as base, browser() as chromium:
        page = chromium.new_page(viewport={"width": 1400, "height": 1200})
        open_page(page, f"{base}/alerts?incident={ta}", charts=0)  # the link an email carries
        assert page.locator("[data-testid='stException']").count() == 0
        assert page.locator("h1").first.inner_text().strip() == "Alerts"
        assert page.locator("h4", has_text=f"#{ta} language=ta").count() == 1
        assert f"incident={ta}" in page.url  # the sidebar's filters keep the alert in the URL
        page.get_by_label("Your name").fill("Priya (PM, Tamil)")
        page.get_by_label("Note").fill("looking into the cheap route")
        page.get_by_role("button", name="Acknowledge").click()
        page.get_by_text("Acknowledged by Priya (PM, Tamil)").wait_for(timeout=60_000)
        page.reload()
        page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=60_000)
        page.get_by_text("Acknowledged by Priya (PM, Tamil): looking into the cheap route").wait_for(timeout=60_000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "alerts.png"), full_page=True)
    with engine.connect() as connection:
        row = connection.execute(sa.select(incidents).where(incidents.c.id == ta)).one()
        kinds = list(connection.scalars(sa.select(incident_events.c.kind).where(incident_events.c.incident_id == ta)))
    assert row.acknowledged_by == "Priya (PM, Tamil)" and row.note == "looking into the cheap route"
    assert kinds == ["new", "acknowledged"]
    engine.dispose()

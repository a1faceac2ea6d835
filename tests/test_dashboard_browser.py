"""End to end in a real browser: `routewatch dashboard` served on a free port, Debian's Chromium via Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from routewatch.store import Store
from tests.browser import PAGES, browser, chromium_path, dashboard, open_page

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"

pytestmark = pytest.mark.skipif(
    chromium_path() is None, reason="no Chromium on this machine (apt-get install chromium; .ci/run installs it)"
)


@pytest.fixture(scope="module")
def served(demo_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """The dashboard on the demo store, and a browser page."""
    log = tmp_path_factory.mktemp("dashboard") / "dashboard.log"
    with dashboard(demo_store.dsn, log) as base, browser() as chromium:
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        yield base, page
        page.close()


@pytest.mark.parametrize("path", list(PAGES), ids=lambda p: p or "overview")
def test_every_page_loads_with_its_charts(path: str, served: tuple[str, Any]) -> None:
    base, page = served
    open_page(page, f"{base}/{path}")
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator("h1").first.inner_text().strip() == PAGES[path]
    assert page.locator(".js-plotly-plot").count() >= 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{path or 'overview'}.png"), full_page=True)


def _requests(page: Any) -> int:
    card = page.locator("[data-testid='stMetric']", has_text="Requests").first
    return int(card.locator("[data-testid='stMetricValue']").inner_text().replace(",", ""))


def test_a_filter_in_the_url_changes_the_numbers(served: tuple[str, Any]) -> None:
    base, page = served
    open_page(page, f"{base}/")
    everyone = _requests(page)
    assert "since=" in page.url and "until=" in page.url  # the URL keeps the filters
    open_page(page, f"{page.url}&dimension=language&value=hi")
    only_hi = _requests(page)
    assert 0 < only_hi < everyone
    page.screenshot(path=str(ARTIFACTS / "overview-language-hi.png"), full_page=True)


def test_choosing_a_router_in_the_sidebar_changes_the_numbers(served: tuple[str, Any]) -> None:
    base, page = served
    open_page(page, f"{base}/?since=2026-10-04&until=2026-10-31")
    everyone = _requests(page)
    page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").first.click()
    page.get_by_role("option", name="bert-router@v6").click()
    page.wait_for_function(
        "before => { const v = document.querySelector('[data-testid=\"stMetricValue\"]'); "
        "return v && v.innerText.replace(/,/g, '') !== String(before); }",
        arg=everyone,
        timeout=60_000,
    )
    assert 0 < _requests(page) < everyone
    assert "router=bert-router" in page.url
    page.screenshot(path=str(ARTIFACTS / "overview-router-v6.png"), full_page=True)

"""End to end in a real browser: `routewatch dashboard` served on a free port, Debian's Chromium via Playwright."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from metrics.overview import KPIS
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


# What a person reads: the main area's text, tables and chart ticks (the sidebar and the navigation left out).
MAIN = "[data-testid='stMain']"
COUNT = r"\d{1,3}(,\d{3})*"


def _before(page: Any, first: str, second: str) -> bool:
    """Whether the first element matching ``first`` comes before the first matching ``second`` on the page."""
    return bool(
        page.evaluate(
            "([a, b]) => { const x = document.querySelector(a), y = document.querySelector(b); "
            "return !!(x && y && (x.compareDocumentPosition(y) & Node.DOCUMENT_POSITION_FOLLOWING)); }",
            [first, second],
        )
    )


def _svg_texts(locator: Any) -> list[str]:
    """The text of SVG elements (a chart's ticks and legend), which have no innerText."""
    return [str(t) for t in locator.evaluate_all("els => els.map(e => e.textContent)")]


def _table(page: Any, index: int = 0) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of a plain table of the main area, as shown."""
    table = page.locator(f"{MAIN} [data-testid='stTable'] table").nth(index)
    header = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    rows = [[c.strip() for c in row.locator("td").all_inner_texts()] for row in table.locator("tbody tr").all()]
    return header, rows


def test_segments_leads_with_the_forest_plot_and_a_table_in_words(served: tuple[str, Any]) -> None:
    base, page = served
    open_page(page, f"{base}/segments?since=2026-10-04&until=2026-10-31")
    main = page.locator(MAIN).inner_text()
    # The answer first: who is served worse, by how much, in points with the interval.
    lead = page.locator(f"{MAIN} [data-testid='stAlert']").first.inner_text()
    assert "Served worse" in lead and "language = hi" in lead, lead
    assert re.search(r"resolution rate \d+\.\d% against \d+\.\d% for en, -\d+\.\d pp \(-\d+\.\d to -\d+\.\d\)", lead)
    # The forest plot before the table, and the table's columns in words.
    assert _before(page, f"{MAIN} .js-plotly-plot", f"{MAIN} [data-testid='stTable']")
    header, rows = _table(page)
    assert header == [
        "Segment", "Metric", "Status", "Segment's value", "Reference", "Gap at the same task mix (95% interval)",
        "Users", "Requests",
    ]  # fmt: skip
    assert rows and all(re.fullmatch(COUNT, row[6]) and re.fullmatch(COUNT, row[7]) for row in rows), rows
    gaps = [row[5] for row in rows]
    assert all(re.fullmatch(r"n/a|[+-]?\d+\.\d pp( \(.+ to .+\))?", g) for g in gaps), gaps
    assert {"Thumbs-up rate", "Resolution rate"} <= {row[1] for row in rows}
    assert any(row[2] == "✖ Real gap" for row in rows)
    # No machine name where a person reads (the CSV download keeps them).
    for machine in ("thumbs_up_rate", "resolution_rate", "explained_by_task_mix", "p_adjusted", "ci_low"):
        assert machine not in main, machine
    # The forest plot's gaps are in points, each segment named with its users and requests.
    ticks = _svg_texts(page.locator(f"{MAIN} .js-plotly-plot").first.locator(".xtick text"))
    assert ticks and all(t.endswith(" pp") for t in ticks), ticks
    names = _svg_texts(page.locator(f"{MAIN} .js-plotly-plot").first.locator(".ytick text"))
    assert any(re.fullmatch(rf"hi{COUNT} users · {COUNT} requests", n) for n in names), names
    # The heatmap is drawn when its expander is opened, under it.
    assert page.locator(f"{MAIN} .js-plotly-plot").count() == 1
    heatmap = page.locator(f"{MAIN} [data-testid='stExpander']", has_text="Heatmap")
    heatmap.locator("summary").click()
    heatmap.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=60_000)
    assert "Escalation rate by language and channel" in heatmap.inner_text()


@pytest.mark.parametrize("path", list(PAGES), ids=lambda p: p or "overview")
def test_no_rate_axis_reads_past_100_percent(path: str, served: tuple[str, Any]) -> None:
    base, page = served
    open_page(page, f"{base}/{path}?since=2026-10-04&until=2026-10-31")
    ticks = _svg_texts(page.locator(f"{MAIN} .js-plotly-plot .ytick text"))
    rates = [float(t.rstrip("%").replace("−", "-")) for t in ticks if t.endswith("%")]
    assert all(0 <= r <= 100 for r in rates), rates
    if path == "":  # the cost-against-quality chart's resolution axis ran to 150%
        assert rates


def test_the_overview_leads_with_the_verdict_and_numbers_in_their_units(served: tuple[str, Any]) -> None:
    base, page = served
    open_page(page, f"{base}/?since=2026-10-18&until=2026-10-31")  # two weeks, and two before to compare
    verdict = page.locator(f"{MAIN} h3").first.inner_text()
    assert re.match(r"1 segment served worse: language = hi", verdict), verdict
    assert _before(page, f"{MAIN} h3", f"{MAIN} [data-testid='stMetric']")

    def tile(label: str) -> tuple[str, str]:
        card = page.locator(f"{MAIN} [data-testid='stMetric']", has_text=label).first
        delta = card.locator("[data-testid='stMetricDelta']")
        return card.locator("[data-testid='stMetricValue']").inner_text(), (delta.inner_text() if delta.count() else "")

    label = {kpi.name: kpi.label for kpi in KPIS}  # the tiles' labels, from the metric table
    assert re.fullmatch(COUNT, tile(label["requests"])[0])
    assert re.fullmatch(rf"{COUNT} ms", tile(label["p95_ms"])[0])  # whole milliseconds
    assert re.fullmatch(r"\$0\.0*[1-9]\d\d", tile(label["cost_per_resolved"])[0])  # three significant digits
    value, change = tile(label["resolution_rate"])
    assert re.fullmatch(r"\d+\.\d%", value) and re.fullmatch(r"[+-]?\d+\.\d pp", change), (value, change)


def test_costs_leads_with_all_in_against_naive_in_one_sentence(served: tuple[str, Any]) -> None:
    base, page = served
    open_page(page, f"{base}/costs?since=2026-10-04&until=2026-10-31")
    lead = page.locator(f"{MAIN} [data-testid='stMarkdown']", has_text="A resolved request costs").first
    text = lead.inner_text()
    assert re.search(r"costs \$0\.\d+ all-in .* naive \$0\.\d+ of model spend per request, \d+\.\d× ", text), text
    assert re.search(r"by route: (\w+ \$0\.\d+; )+\w+ \$0\.\d+\.", text), text
    plot = page.locator(f"{MAIN} .js-plotly-plot").first
    assert lead.bounding_box()["y"] < plot.bounding_box()["y"]  # the sentence, then the chart
    legend = _svg_texts(page.locator(f"{MAIN} .js-plotly-plot").first.locator(".legendtext"))
    assert legend == ["All-in per resolved request", "Naive: model spend per request"], legend


def test_second_class_cards_say_what_the_router_does(served: tuple[str, Any]) -> None:
    base, page = served
    open_page(page, f"{base}/second_class", charts=0)
    text = page.locator(MAIN).inner_text()
    assert "Language = hi" in text and "Evidence:" in text, text
    escalates = r"it escalates \d+\.\d% of their requests \(\d+\.\d% for en\), sends to the cheap route"
    assert re.search(escalates, text), text
    assert re.search(r"costs \$0\.\d+ all-in \(\$0\.\d+ for en\)", text), text


def test_an_empty_window_says_why_and_what_fills_it(served: tuple[str, Any]) -> None:
    base, page = served
    # bert-router@v6 served the first half of the demo's four weeks only.
    open_page(page, f"{base}/segments?since=2026-10-30&until=2026-10-31&router=bert-router%40v6", charts=0)
    info = page.locator(f"{MAIN} [data-testid='stAlert']").first.inner_text()
    assert "No requests from 2026-10-30 to 2026-10-31 (UTC) with router = bert-router@v6" in info, info
    assert "routewatch ingest" in info and "widen the time range" in info
    assert page.locator(f"{MAIN} .js-plotly-plot").count() == 0
    assert page.locator("[data-testid='stException']").count() == 0

"""Every dashboard page through Streamlit's AppTest, against a demo store, an empty store and a broken one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from metrics.overview import KPIS
from routewatch.store import Store
from tests.conftest import cli_json

APP = str(Path(__file__).resolve().parent.parent / "app" / "streamlit_app.py")
# Page file -> the least number of charts it draws on the demo store.
PAGES = {
    "app_pages/overview.py": 3,
    "app_pages/routes.py": 4,
    "app_pages/segments.py": 1,
    "app_pages/second_class.py": 0,
    "app_pages/alerts.py": 0,
    "app_pages/costs.py": 1,
    "app_pages/shadow.py": 1,
    "app_pages/health.py": 1,
}


def _app(monkeypatch: pytest.MonkeyPatch, dsn: str) -> AppTest:
    monkeypatch.setenv("ROUTEWATCH_STORE", dsn)
    monkeypatch.setenv("ROUTEWATCH_LOCK_TIMEOUT", "30")
    return AppTest.from_file(APP, default_timeout=180)


@pytest.fixture
def fresh_caches() -> Iterator[None]:
    """Each test gets its own store client and answers (the caches live in the process)."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def _problems(at: AppTest) -> list[str]:
    # st.error also shows findings: the second-class verdict, and the segments served worse on the Segments page.
    findings = ("Second-class", "**Served worse**")
    return [str(e.value) for e in at.exception] + [
        str(e.value) for e in at.error if not any(f in e.value for f in findings)
    ]


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_draws_without_an_error(
    page: str, demo_store: Store, monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> None:
    at = _app(monkeypatch, demo_store.dsn)
    at.switch_page(page).run()
    assert not _problems(at), _problems(at)
    assert len(at.get("plotly_chart")) >= PAGES[page]
    assert at.title and at.title[0].value  # the page drew its heading
    # Every table comes with its CSV download.
    assert len(at.get("download_button")) >= len(at.dataframe)


def test_overview_shows_the_planted_second_class_users(
    demo_store: Store, monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> None:
    at = _app(monkeypatch, demo_store.dsn)
    at.run()
    # Decided by the job, not by the page: second-class after the weekly audit, or an early warning before it.
    alerts = [e.value for e in at.error if "Second-class" in e.value]
    alerts += [w.value for w in at.warning if "Early warning" in w.value]
    assert any("language=hi" in alert for alert in alerts), alerts
    assert not any("language=es" in alert for alert in alerts), alerts  # no planted gap, no alert
    # One window, one verdict: the banner is `routewatch second-class` for the week it names (the traffic ends on
    # Saturday 31 October, so the last audited week is 19 to 25 October), word for word.
    cli = cli_json("second-class", "--by", "language", "--until", "2026-10-26", "--format", "json", store=demo_store)
    assert [row["segment"] for row in cli] == ["hi"]
    banner = [e.value for e in at.error if "Second-class" in e.value]
    assert banner == [f"**Second-class users, {row['severity']}:** {row['evidence']}" for row in cli]
    assert any("2026-10-19 to 2026-10-25" in c.value and "weekly audit" in c.value for c in at.caption)
    labels = [m.label for m in at.metric]
    tiles = {kpi.name: kpi.label for kpi in KPIS}  # the metric table's labels
    assert {tiles[name] for name in ("requests", "cost_per_resolved", "cost_per_request", "p95_ms")} <= set(labels)
    assert all(m.help for m in at.metric)  # a help text on every number


def _requests_shown(at: AppTest) -> int:
    metric = next(m for m in at.metric if m.label == "Requests")
    return int(metric.value.replace(",", ""))


def test_a_filter_changes_the_numbers_and_the_url_keeps_it(
    demo_store: Store, monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> None:
    at = _app(monkeypatch, demo_store.dsn)
    at.run()
    everyone = _requests_shown(at)
    at.selectbox(key="f_dimension").select("language").run()
    at.selectbox(key="f_value").select("hi").run()
    only_hi = _requests_shown(at)
    assert 0 < only_hi < everyone
    link = {key: value if isinstance(value, str) else value[0] for key, value in at.query_params.items()}
    assert link["dimension"] == "language" and link["value"] == "hi"

    # A shared link restores the same view in a new session.
    again = _app(monkeypatch, demo_store.dsn)
    again.query_params.update(link)
    again.run()
    assert _requests_shown(again) == only_hi
    assert again.selectbox(key="f_value").value == "hi"


def test_the_requests_shown_match_the_rows(
    demo_store: Store, monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> None:
    at = _app(monkeypatch, demo_store.dsn)
    at.run()
    since, until = (str(at.query_params[k]) for k in ("since", "until"))
    count = demo_store.query_rows(
        "SELECT count() FROM requests FINAL WHERE toDate(ts) BETWEEN {a:Date} AND {b:Date}", {"a": since, "b": until}
    )[0][0]
    assert _requests_shown(at) == count


@pytest.mark.parametrize("page", list(PAGES))
def test_an_empty_store_says_how_to_load_data(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> None:
    at = _app(monkeypatch, f"chdb://{tmp_path / 'empty'}")
    at.switch_page(page).run()
    assert not at.exception
    assert any("no requests yet" in i.value for i in at.info)
    assert any("routewatch ingest" in m.value for m in at.markdown)


def test_an_unreachable_server_is_a_message_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> None:
    at = _app(monkeypatch, "http://routewatch:s3cret@127.0.0.1:9/db")
    at.run()
    assert not at.exception
    messages = [e.value for e in at.error]
    assert messages and "could not answer" in messages[0], messages
    assert all("s3cret" not in m for m in messages)


def test_a_mangled_link_falls_back_to_the_defaults(
    demo_store: Store, monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> None:
    plain = _app(monkeypatch, demo_store.dsn)
    plain.run()
    mangled = _app(monkeypatch, demo_store.dsn)
    mangled.query_params.update(
        {"since": "yesterday", "until": "2999-01-01", "router": "'; DROP TABLE requests", "dimension": "user_id"}
    )
    mangled.run()
    assert not _problems(mangled), _problems(mangled)
    assert mangled.selectbox(key="f_router").value == "All"
    assert mangled.selectbox(key="f_dimension").value == "All"
    assert _requests_shown(mangled) == _requests_shown(plain)  # the last 14 days of data, all traffic


def _the_other_panels_drew(at: AppTest) -> None:
    """The data health page's panels before and after the Quarantine panel all drew."""
    assert {"Live requests", "Last ingest (UTC)"} <= {m.label for m in at.metric}
    assert [h.value for h in at.subheader][:5] == [
        "Orphan feedback",
        "Unpriced requests",
        "Quarantine",
        "Ingest batches",
        "Feedback coverage",
    ]
    assert len(at.dataframe) == 1 and len(at.get("plotly_chart")) == 1


def test_a_failing_panel_shows_its_own_message_and_the_page_draws_on(
    synthetic_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> None:
    from ingest.load import ingest

    store = Store(f"chdb://{tmp_path / 'store'}", lock_timeout_s=30)
    ingest(store, [str(synthetic_file)])
    store.command("DROP TABLE quarantine")  # the Quarantine panel's query now fails in the engine
    at = _app(monkeypatch, store.dsn)
    at.switch_page("app_pages/health.py").run()
    assert not at.exception
    failed = [e.value for e in at.error]
    assert len(failed) == 1 and "quarantine" in failed[0].lower() and "could not answer" in failed[0], failed
    _the_other_panels_drew(at)


def test_a_panel_past_the_time_limit_shows_its_own_message_and_the_page_draws_on(
    synthetic_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> None:
    from ingest.load import ingest

    store = Store(f"chdb://{tmp_path / 'store'}", lock_timeout_s=30)
    ingest(store, [str(synthetic_file)])
    # The Quarantine panel's query now reads an endless view: the engine stops it at the time limit.
    store.command("DROP TABLE quarantine")
    store.command(
        "CREATE VIEW quarantine AS SELECT toString(number) AS source_file, number AS source_line, '' AS raw, "
        "['endless'] AS reasons FROM numbers(1000000000000)"
    )
    monkeypatch.setenv("ROUTEWATCH_QUERY_TIME_LIMIT", "3")
    at = _app(monkeypatch, store.dsn)
    at.switch_page("app_pages/health.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    slow = [w.value for w in at.warning if "took too long" in w.value]
    assert len(slow) == 1 and "time limit of 3 s" in slow[0], [w.value for w in at.warning]
    _the_other_panels_drew(at)


def test_unpriced_requests_are_shown_on_the_data_health_and_costs_pages(
    synthetic_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> None:
    import json

    from ingest.load import ingest
    from tests.conftest import write_lines

    lines = [json.loads(line) for line in synthetic_file.read_text().splitlines()]
    for record in lines[::125]:  # 40, spread over the days
        del record["cost_usd"]
        record["cost_source"] = "unpriced"
    store = Store(f"chdb://{tmp_path / 'store'}", lock_timeout_s=30)
    ingest(store, [str(write_lines(tmp_path / "traffic.jsonl", [json.dumps(r) for r in lines]))])
    at = _app(monkeypatch, store.dsn)
    at.switch_page("app_pages/health.py").run()
    assert not _problems(at), _problems(at)
    warnings = [w.value for w in at.warning]
    assert any(w.startswith(f"Unpriced requests: 40 of {len(lines):,} requests (0.8%)") for w in warnings), warnings
    at.switch_page("app_pages/costs.py").run()
    assert not _problems(at), _problems(at)
    shown = [w.value for w in at.warning]
    assert any("are unpriced" in w and "never counted as $0" in w for w in shown), shown


def test_the_shadow_page_leads_with_how_often_and_what_it_would_cost(
    demo_store: Store, monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> None:
    """PM trial: the first screen showed a bare "+$41.35"; it now says, for the period, what share of the compared
    requests the shadow would route differently and what following it would cost, counted here from the rows."""
    at = _app(monkeypatch, demo_store.dsn)
    at.switch_page("app_pages/shadow.py").run()
    since, until = (str(at.query_params[k]) for k in ("since", "until"))
    compared, diverged = demo_store.query_rows(
        "SELECT countIf(shadow_route != ''), countIf(shadow_route != '' AND shadow_route != route) FROM requests FINAL "
        "WHERE toDate(ts) BETWEEN {a:Date} AND {b:Date}",
        {"a": since, "b": until},
    )[0]
    lead = next(m.value for m in at.markdown if "the shadow router would have routed" in m.value)
    assert f"From {since} to {until}" in lead
    assert f"**{diverged / compared:.1%}** of {compared:,} compared requests differently" in lead
    assert "following it would have cost **$" in lead


def test_the_segments_page_reads_the_stored_window_at_its_defaults_and_computes_a_custom_view(
    demo_store: Store, monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> None:
    from app import context
    from metrics.gaps import gap_table

    asked: list[str] = []
    for name in ("gap_table", "stored_gap_table", "calibration"):
        answer = context.ANSWERS[name]
        monkeypatch.setitem(context.ANSWERS, name, lambda *a, _n=name, _f=answer, **k: asked.append(_n) or _f(*a, **k))
    at = _app(monkeypatch, demo_store.dsn)
    at.switch_page("app_pages/segments.py").run()
    assert not _problems(at), _problems(at)
    # The default view (the last 14 closed days, language, the default metrics) is a window decide stored.
    assert asked == ["stored_gap_table"]
    since, until = (str(at.query_params[k]) for k in ("since", "until"))
    stored = context.ANSWERS["stored_gap_table"]
    first, last = date.fromisoformat(since), date.fromisoformat(until)
    window = {
        "since": datetime.combine(first, time(), UTC),
        "until": datetime.combine(last, time(), UTC) + timedelta(days=1),
    }
    live = gap_table(demo_store, ["language"], **window)
    shown = stored(demo_store, ["language"], **window)
    assert shown is not None
    pd.testing.assert_frame_equal(shown, live, check_exact=True, check_dtype=False)

    # Ten days is no stored window: the page computes it (and says so while it does).
    asked.clear()
    at.date_input(key="f_range").set_value((first + timedelta(days=4), last)).run()
    assert not _problems(at), _problems(at)
    assert asked == ["stored_gap_table", "gap_table"]

    # The calibration test fits a model on every scored request: it runs when asked.
    assert "calibration" not in asked
    tables = len(at.dataframe)
    at.toggle(key="segments_calibration_on").set_value(True).run()
    assert not _problems(at), _problems(at)
    assert len(at.dataframe) == tables + 1


def test_the_segments_page_draws_its_answer_first_and_the_rest_when_opened(
    demo_store: Store, monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> None:
    from app import context

    cuts: list[tuple[str, tuple[str, ...], str | None]] = []
    compute = context.ANSWERS["metric"]

    def metric(*args: object, name: str, by: list[str], bucket: str | None, **kwargs: object) -> pd.DataFrame:
        cuts.append((name, tuple(by), bucket))
        return compute(*args, name=name, by=by, bucket=bucket, **kwargs)

    stored = context.ANSWERS["stored_gap_table"]

    def one_explained_by_task_mix(*args: object, **kwargs: object) -> pd.DataFrame | None:
        table = stored(*args, **kwargs)  # the demo plants no such gap: one gap explained by the task mix, as if
        if table is not None:
            table = table.copy()
            table.loc[table.index[0], "status"] = "explained_by_task_mix"
        return table

    monkeypatch.setitem(context.ANSWERS, "metric", metric)
    monkeypatch.setitem(context.ANSWERS, "stored_gap_table", one_explained_by_task_mix)
    at = _app(monkeypatch, demo_store.dsn)
    at.switch_page("app_pages/segments.py").run()
    assert not _problems(at), _problems(at)
    # The answer: the verdict, the forest plot and the table in words; nothing else is queried or drawn.
    assert len(at.get("plotly_chart")) == 1 and len(at.table) == 1 and not at.dataframe
    assert all(not by for _, by, _ in cuts), cuts  # the whole window's totals only (its coverage, its emptiness)
    labels = [e.label for e in at.expander]
    assert labels[0].startswith("Every column") and labels[1].startswith("Task mix by language"), labels
    assert "Heatmap" in labels[2] and "over time" in labels[3], labels
    # Each part runs and draws when its expander is opened, as a click on it does.
    opened = {
        "segments_every_column": (0, 1, []),
        "segments_task_mix_language": (1, 1, [("escalation_rate", ("language", "task_type"), None)]),
        "segments_heatmap": (1, 0, [("escalation_rate", ("language", "channel"), None)]),
        "segments_cheap_share": (1, 1, [("cheap_share", ("language",), "day")]),
    }
    for key, (charts, grids, queried) in opened.items():
        drawn, shown = len(at.get("plotly_chart")), len(at.dataframe)
        cuts.clear()
        at.session_state[key] = True
        at.run()
        assert not _problems(at), _problems(at)
        assert (len(at.get("plotly_chart")) - drawn, len(at.dataframe) - shown) == (charts, grids), key
        assert cuts == queried, key


def test_the_second_class_page_tests_the_routers_calibration_when_asked(
    demo_store: Store, monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> None:
    at = _app(monkeypatch, demo_store.dsn)
    at.switch_page("app_pages/second_class.py").run()
    assert not _problems(at), _problems(at)
    assert not [m for m in at.markdown if m.value.startswith("Why:")]
    at.toggle(key="second_class_calibration").set_value(True).run()
    assert not _problems(at), _problems(at)
    # The demo's router score under-rates Hindi prompts (ingest/synthetic.py): the card says why hi is served worse.
    assert [m for m in at.markdown if m.value.startswith("Why:") and "hi" in m.value]

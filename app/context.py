"""What every page shares: the read-only store, cached answers, the sidebar filters the URL keeps, and helpers
that turn failures into friendly messages and tables into downloads."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from metrics import (
    calibration,
    costs,
    decisions,
    gaps,
    health,
    latency,
    overview,
    registry,
    route_costs,
    shadow_quality,
)
from metrics.dimensions import DimensionError, segment_dimensions
from routewatch.migrations import readiness
from routewatch.output import csv_text
from routewatch.settings import Settings, load_settings
from routewatch.store import Store, StoreBusy, StoreError, StoreTimeout

LOG = logging.getLogger("routewatch.dashboard")
TTL_S = 60  # answers are cached this long: a refresh within a minute costs no query
DEFAULT_DAYS = 14  # two weeks: enough traffic per segment to decide, and a previous fortnight to compare
# Sidebar segment filters: dimensions the daily rollup keeps, so every page stays fast with a filter on.
FILTER_DIMENSIONS = ("language", "channel", "tier", "region", "task_type")
ALL = "All"
# The dimensions checked for second-class users on the overview and its own page.
SECOND_CLASS_DIMENSIONS = ("language", "channel", "tier")

# Everything a page can ask the store, by name; each takes the store first.
ANSWERS: dict[str, Callable[..., Any]] = {
    "metric": registry.compute,
    "data_range": overview.data_range,
    "daily_sums": overview.daily_sums,
    "histograms": latency.histograms,
    "quantiles": latency.quantile_table,
    "double_pay": costs.escalation_double_pay,
    "spend_concentration": costs.spend_concentration,
    "gap_table": gaps.gap_table,
    "calibration": calibration.calibration,
    "first_route_costs": route_costs.first_route_costs,
    "shadow_quality": shadow_quality.shadow_quality,
    "decision_history": decisions.decision_history,
    "latest_decisions": decisions.latest_decisions,
    "latest_audit": decisions.latest_audit,
    "touched_users": decisions.touched_users,
    "batches": health.ingest_batches,
    "quarantine": health.quarantine_reasons,
    "freshness": health.freshness,
    "readiness": readiness,
    "orphan_feedback": health.orphan_feedback,
    "segment_dimensions": segment_dimensions,
}


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    """The settings of the dashboard process (flags of `routewatch dashboard`, environment, routewatch.toml)."""
    return load_settings()


# An embedded store stays open this long between page runs (opening it costs about 0.2 s), unless another
# process (an ingest, the alert job) asks for it: then it is closed within a tenth of a second.
LINGER_S = 30.0


@st.cache_resource(show_spinner=False, on_release=Store.close)
def store() -> Store:
    """The dashboard's store client: read-only, whatever the DSN (closed, idle session included, when released)."""
    config = settings()
    return Store(
        config.store_dsn,
        read_only=True,
        time_limit_s=config.query_time_limit_s,
        lock_timeout_s=config.lock_timeout_s,
        linger_s=LINGER_S,
    )


@st.cache_resource(show_spinner=False)
def state_engine() -> Engine:
    """The alert state database (``ROUTEWATCH_STATE_DB``), as `routewatch alerts run` keeps it.

    The dashboard writes only acknowledgements and snoozes there; it never migrates the schema.
    """
    from alerts.state import open_state, state_url

    return open_state(state_url(settings()), migrate=False)


@st.cache_data(ttl=TTL_S, max_entries=512, show_spinner=False)
def _answer(question: str, kwargs: dict[str, Any]) -> Any:
    return ANSWERS[question](store(), **kwargs)


def answer(question: str, /, **kwargs: Any) -> Any:
    """A cached answer from ``metrics`` (keyed by question and arguments, kept ``TTL_S`` seconds)."""
    return _answer(question, kwargs)


def metric(name: str, filters: Filters, by: list[str] | None = None, bucket: str | None = None) -> pd.DataFrame:
    """A registry metric over the filters' window and cut."""
    since, until = filters.window
    return answer(
        "metric",
        name=name,
        by=by or [],
        since=since,
        until=until,
        where=filters.where,
        bucket=bucket,
        cheap_route=settings().route_order[0],
        reask_window_s=settings().reask_window_s,
    )


def gap_table(
    filters: Filters, dimensions: tuple[str, ...] = SECOND_CLASS_DIMENSIONS, metrics: list[str] | None = None
) -> pd.DataFrame:
    """The gap table of ``dimensions`` over the filters' window and cut."""
    since, until = filters.window
    return answer(
        "gap_table", dimensions=list(dimensions), metrics=metrics, since=since, until=until, where=filters.where
    )


def show_decided_alerts() -> decisions.Verdict | None:
    """The second-class users of the latest weekly audit and the latest early warnings, as stored by
    `routewatch decide` (the same verdict `routewatch second-class` gives for that week); returns that audit's
    verdict, or None before the first."""
    latest = answer("latest_decisions")
    if latest.empty:
        st.info("No decisions yet: `routewatch decide` judges each closed day (run it daily; the demo does).")
        return None
    found: decisions.Verdict | None = answer("latest_audit", dimensions=list(SECOND_CLASS_DIMENSIONS))
    for row in (found.users if found else latest.iloc[:0]).itertuples():
        st.error(f"**Second-class users, {row.severity}:** {row.evidence}", icon=":material/warning:")
    for row in decisions.early_warnings(latest).itertuples():
        st.warning(f"**Early warning:** {row.evidence}", icon=":material/trending_down:")
    day = f"{pd.Timestamp(latest['window_start'].iloc[0]):%Y-%m-%d}"
    if found is None:
        st.info("No ISO week audited yet: the weekly audit runs on the Sunday that closes a week.")
        return None
    if found.users.empty:
        st.success(f"No second-class users confirmed over {found.first_day} to {found.last_day}.")
    st.caption(
        f"Second-class users over {found.describe()}; early warnings of {day}. Over all traffic: the sidebar "
        "filters do not apply to decisions. `routewatch second-class` prints the same verdict."
    )
    return found


def current_filters() -> Filters:
    """The filters the frame drew in the sidebar for this run."""
    filters: Filters = st.session_state["_filters"]
    return filters


@dataclass(frozen=True)
class Filters:
    """The sidebar's choices: whole UTC days from ``first`` to ``last``, a router version and a segment."""

    first: date
    last: date
    router: str = ALL
    dimension: str = ALL
    value: str = ALL

    @property
    def window(self) -> tuple[datetime, datetime]:
        """[first 00:00, last + 1 day 00:00) in UTC."""
        return overview.whole_days(self.first, self.last)

    @property
    def where(self) -> dict[str, str]:
        """The filters as ``metrics`` takes them (dimension -> value)."""
        where = {} if self.router == ALL else {"router": self.router}
        if self.dimension != ALL and self.value != ALL:
            where[self.dimension] = self.value
        return where

    def describe(self) -> str:
        """One line for captions: the window and the cut."""
        cut = ", ".join(f"{k} = {v}" for k, v in self.where.items()) or "all traffic"
        return f"{self.first:%Y-%m-%d} to {self.last:%Y-%m-%d} (UTC), {cut}"


def _param_date(name: str, fallback: date, low: date, high: date) -> date:
    try:
        value = date.fromisoformat(str(st.query_params.get(name, "")))
    except ValueError:
        return fallback
    return min(max(value, low), high)


def _restore_from_url(span: overview.DataRange) -> None:
    """On a session's first run, set the widgets from the URL (a shared link), else to the last week of data."""
    if st.session_state.get("_filters_restored"):
        return
    assert span.first_day is not None and span.last_day is not None
    default_first = max(span.first_day, span.last_day - timedelta(days=DEFAULT_DAYS - 1))
    first = _param_date("since", default_first, span.first_day, span.last_day)
    last = _param_date("until", span.last_day, first, span.last_day)
    st.session_state["f_range"] = (first, last)
    st.session_state["f_router"] = st.query_params.get("router", ALL)
    st.session_state["f_dimension"] = st.query_params.get("dimension", ALL)
    st.session_state["f_value"] = st.query_params.get("value", ALL)
    st.session_state["_filters_restored"] = True


def sidebar(span: overview.DataRange) -> Filters:
    """Draw the filters in the sidebar, keep them in the URL, and return them."""
    assert span.first_day is not None and span.last_day is not None
    _restore_from_url(span)
    with st.sidebar:
        st.subheader("Filters")
        chosen = st.date_input(
            "Time range (UTC days)",
            min_value=span.first_day,
            max_value=span.last_day,
            key="f_range",
            help="Whole UTC days. The overview compares them with the same number of days before.",
        )
        picked = list(chosen) if isinstance(chosen, tuple | list) else [chosen]
        first = picked[0] if picked else span.first_day
        last = picked[1] if len(picked) > 1 else first
        routers = [ALL, *span.routers]
        if st.session_state.get("f_router") not in routers:
            st.session_state["f_router"] = ALL
        router = st.selectbox("Router version", routers, key="f_router")
        dimensions = [ALL, *FILTER_DIMENSIONS]
        if st.session_state.get("f_dimension") not in dimensions:
            st.session_state["f_dimension"] = ALL
        dimension = st.selectbox("Segment", dimensions, key="f_dimension", help="Keep only one segment's traffic.")
        value = ALL
        if dimension != ALL:
            values = [ALL, *segment_values(dimension)]
            if st.session_state.get("f_value") not in values:
                st.session_state["f_value"] = ALL
            value = st.selectbox(f"{dimension} is", values, key="f_value")
        st.caption(f"Data from {span.first_day} to {span.last_day}: {span.requests:,} requests.")
    filters = Filters(first, last, router, dimension, value)
    _write_url(filters)
    st.session_state["_filters"] = filters
    return filters


# URL parameters a page owns (the alerts page's ?incident=ID from an email's link); the sidebar keeps them.
PAGE_PARAMS = ("incident",)


def _write_url(filters: Filters) -> None:
    wanted = {"since": filters.first.isoformat(), "until": filters.last.isoformat()}
    wanted.update({name: st.query_params[name] for name in PAGE_PARAMS if name in st.query_params})
    for name in ("router", "dimension", "value"):
        if getattr(filters, name) != ALL:
            wanted[name] = getattr(filters, name)
    if dict(st.query_params) != wanted:
        st.query_params.from_dict(wanted)


def segment_values(dimension: str) -> list[str]:
    """The values a segment dimension takes in the store, the largest first."""
    frame = answer("metric", name="escalation_rate", by=[dimension])
    return [str(v) for v in frame.sort_values("requests", ascending=False)[dimension]]


def store_state() -> tuple[str, overview.DataRange | None]:
    """``ready`` with the data range, or ``empty`` / ``outdated`` when there is nothing to show yet."""
    state = answer("readiness").state
    span = answer("data_range") if state == "ready" else None
    if span is None or not span.requests:
        # Not ready a minute ago, perhaps ready now: ask again rather than wait for the cache to expire.
        _answer.clear()
        state = readiness(store()).state
        if state != "ready":
            return state, None
        span = answer("data_range")
    return ("ready", span) if span.requests else ("empty", None)


def show_how_to_load(state: str) -> None:
    """What to do when the store has nothing to show."""
    if state == "outdated":
        st.warning("The store's schema is older than this routewatch. Run `routewatch migrate`, then reload.")
        return
    st.info(f"The store {store().display} has no requests yet.")
    st.markdown(
        "Load traffic, then reload this page:\n\n"
        "```sh\n"
        "routewatch demo --no-serve              # synthetic traffic with known second-class users\n"
        "routewatch ingest logs/*.jsonl.gz       # or your own routing logs (JSONL, CSV, Parquet)\n"
        "```\n"
        "Each request needs `request_id`, `ts`, `user_id`, `route`, `model`, `cost_usd` and `latency_ms`; "
        "the README lists every field of the data contract."
    )


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Show a failure as a message a person can act on; the traceback goes to the server log only.

    Each panel of a page draws inside its own, so a panel whose query fails or runs past the time limit shows its
    message where it would have been, and the rest of the page still draws."""
    try:
        yield
    except StoreTimeout as exc:
        st.warning(f"This part took too long: {exc}. Narrow the time range or the cut, then reload.")
    except StoreBusy:
        st.warning(
            "The store is busy: another routewatch job (an ingest, say) holds it. Reload in a moment, or serve "
            "the dashboard from a ClickHouse server to never wait."
        )
    except StoreError as exc:
        st.error(f"The store could not answer: {exc}")
    except DimensionError as exc:
        st.error(str(exc))
    except Exception:
        LOG.exception("dashboard page failed")
        st.error("This part of the page could not be drawn. The details are in the dashboard's log.")


def table(frame: pd.DataFrame, name: str, **options: Any) -> None:
    """A table with a CSV download of exactly what it shows."""
    st.dataframe(frame, hide_index=True, width="stretch", **options)
    st.download_button(
        "Download CSV",
        csv_text(frame).encode(),
        file_name=f"routewatch-{name}.csv",
        mime="text/csv",
        key=f"download-{name}",
    )


def chart(figure: Any) -> None:
    """A plotly figure at the page's width."""
    st.plotly_chart(figure, width="stretch", config={"displaylogo": False})


def help_of(name: str) -> str:
    """The registry's help text of a metric."""
    return registry.get(name).help


def percent(value: float) -> str:
    """0.1234 -> 12.3%."""
    return "n/a" if pd.isna(value) else f"{value:.1%}"


def usd(value: float) -> str:
    """Dollars with precision fit for cents and fractions of a cent."""
    if pd.isna(value):
        return "n/a"
    return f"${value:,.2f}" if abs(value) >= 1 else f"${value:.4f}"

"""What every page shares: the settings, the read-only store and the alert state, the cached answers of ``metrics``,
the store's readiness, and the boundary that turns a panel's failure into a message a person can act on.

The sidebar's filters are in app.filters, text formats in app.formatting, tables and charts in app.components."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

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
from routewatch.settings import Settings, load_settings
from routewatch.store import Store, StoreBusy, StoreError, StoreTimeout

if TYPE_CHECKING:
    from app.filters import Filters

LOG = logging.getLogger("routewatch.dashboard")
TTL_S = 60  # answers are cached this long: a refresh within a minute costs no query
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
    "stored_gap_table": gaps.stored_gap_table,
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
    "unpriced": health.unpriced_requests,
    "segment_dimensions": segment_dimensions,
}


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    """The settings of the dashboard process (flags of `routewatch dashboard`, environment, routewatch.toml)."""
    return load_settings()


# An embedded store stays open between page runs until another process (an ingest, the alert job) asks for it:
# then it is closed within a tenth of a second. Not reopened after every idle spell, because opening costs about
# 0.2 s and the embedded engine keeps some threads and file descriptors of every session it has opened, which a
# dashboard that runs for weeks would pile up.
LINGER_S = math.inf


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
    """The gap table of ``dimensions`` over the filters' window and cut: the one the judge job stored when the view
    is a stored trailing window (``metrics.gaps.stored_gap_table``), else computed exactly now, with a spinner that
    says so."""
    since, until = filters.window
    view = {"dimensions": list(dimensions), "metrics": metrics, "since": since, "until": until, "where": filters.where}
    stored = answer("stored_gap_table", **view)
    if stored is not None:
        return stored
    with st.spinner(
        "Computing the gaps of this view exactly. Stored verdicts cover one dimension on the default metrics over "
        "the last 7, 14 or 28 closed days, for every router or one version; this view is not one of them."
    ):
        return answer("gap_table", **view)


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


def window_is_empty(filters: Filters) -> bool:
    """Whether the sidebar's window and cut hold no request."""
    return bool(metric("escalation_rate", filters).empty)


def show_empty_window(filters: Filters) -> None:
    """Say why the sidebar's window and cut hold no request, and how to change that."""
    cut = f" with {', '.join(f'{k} = {v}' for k, v in filters.where.items())}" if filters.where else ""
    st.info(
        f"No requests from {filters.first} to {filters.last} (UTC){cut}: widen the time range in the sidebar or "
        "set the segment back to All. New traffic arrives with `routewatch ingest FILES`.",
        icon=":material/event_busy:",
    )


def show_no_feedback(filters: Filters) -> bool:
    """Say that no request in the window carries feedback, and which fields send it; True when none does."""
    rated = metric("feedback_coverage", filters)
    if rated.empty or int(rated["rated"].sum()):
        return False
    st.info(
        "No feedback in this period, so thumbs-up rate and CSAT are empty: send `thumb` (-1 or 1) or `csat` (1 to 5) "
        "with each request, or later as events `{request_id, ts, kind, value}` through `routewatch ingest`.",
        icon=":material/thumbs_up_down:",
    )
    return True

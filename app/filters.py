"""The sidebar's filters: whole UTC days, a router version and one segment, kept in the page's URL so that a link
shares the view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import streamlit as st

from app.context import answer
from metrics import overview

DEFAULT_DAYS = 14  # two weeks: enough traffic per segment to decide, and a previous fortnight to compare
# Sidebar segment filters: dimensions the daily rollup keeps, so every page stays fast with a filter on.
FILTER_DIMENSIONS = ("language", "channel", "tier", "region", "task_type")
ALL = "All"


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


def last_closed_day(first_day: date, last_day: date, today: date | None = None) -> date:
    """The default view's last day: the newest day of data that has closed (UTC). A day still running would count
    part of a day as a whole one, and the judge job stores the gap tables of closed days only (alerts.windows), so
    the default view reads them; today itself when it is all there is."""
    today = today or datetime.now(UTC).date()
    return min(last_day, today - timedelta(days=1)) if first_day < today else last_day


def _restore_from_url(span: overview.DataRange) -> None:
    """On a session's first run, set the widgets from the URL (a shared link), else to the last two weeks of closed
    days."""
    if st.session_state.get("_filters_restored"):
        return
    assert span.first_day is not None and span.last_day is not None
    default_last = last_closed_day(span.first_day, span.last_day)
    default_first = max(span.first_day, default_last - timedelta(days=DEFAULT_DAYS - 1))
    first = _param_date("since", default_first, span.first_day, span.last_day)
    last = _param_date("until", default_last, first, span.last_day)
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

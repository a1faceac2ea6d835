"""Overview: the headline numbers against the previous period, open second-class alerts, cost against quality."""

from typing import Literal

import pandas as pd
import streamlit as st

from app import context as ctx
from app import formatting
from app.components import charts, display
from app.components.alerts import show_decided_alerts
from app.filters import current_filters
from metrics import overview

filters = current_filters()
since, until = filters.window
st.title("Overview")
st.caption(f"{filters.describe()}; changes are against the {(until - since).days} days before.")

with ctx.friendly_errors():
    show_decided_alerts()
    ctx.show_no_feedback(filters)

with ctx.friendly_errors():  # what a resolved request costs, the other answer a PM asks for first
    by_route = ctx.metric("cost_per_resolved", filters, by=["route"])
    if not by_route.empty and float(by_route["priced"].sum()):
        st.markdown(formatting.costs_sentence(by_route))

FORMAT = {k.name: k for k in overview.KPIS}


def _shown(value: float, fmt: str) -> str:
    return formatting.by_format(fmt, value)


def _change(values: pd.Series, fmt: str) -> str | None:
    """A rate's change in points (pp), any other number's as a relative change."""
    if fmt == "percent":
        moved = values["current"] - values["previous"]
        return None if pd.isna(moved) else formatting.points(moved)
    return None if pd.isna(values["change"]) else formatting.relative(values["change"])


with ctx.friendly_errors():
    sums = ctx.answer(
        "daily_sums",
        since=overview.previous_start(since, until),
        until=until,
        where=filters.where,
        cheap_route=ctx.settings().route_order[0],
    )
    kpis = overview.period_kpis(sums, since, until).set_index("kpi")
    trend = overview.daily_kpis(sums, since)
    for row_names in (list(FORMAT)[:5], list(FORMAT)[5:]):
        for column, name in zip(st.columns(5), row_names, strict=False):
            kpi, values = FORMAT[name], kpis.loc[name]
            with column:
                change = _change(values, kpi.fmt)
                direction: Literal["normal", "inverse", "off"] = (
                    "normal" if kpi.better == "higher" else "inverse" if kpi.better == "lower" else "off"
                )
                st.metric(
                    kpi.label,
                    _shown(values["current"], kpi.fmt),
                    delta=change,
                    # No change (it rounds to zero) is neither good nor bad.
                    delta_color=direction if change and change[0] in "+-" else "off",
                    help=kpi.help,
                )
                if len(trend) > 1:
                    display.chart(charts.sparkline(trend, "day", name, percent=kpi.fmt == "percent"))

with ctx.friendly_errors():
    st.subheader("Cost against quality")
    st.caption("Each bubble is a route or a router version: left is cheaper per resolved request, up resolves more.")
    left, right = st.columns(2)
    cost = ctx.metric("cost_per_resolved", filters, by=["route", "router"])
    quality = ctx.metric("resolution_rate", filters, by=["route", "router"])
    for column, dimension in ((left, "route"), (right, "router")):
        both = overview.cost_quality(cost, quality, dimension)
        with column:
            display.chart(charts.cost_quality(both, dimension, f"By {formatting.label(dimension).lower()}"))
            display.table(both, f"cost-quality-by-{dimension}")

"""Overview: the headline numbers against the previous period, open second-class alerts, cost against quality."""

import pandas as pd
import streamlit as st

from app import context as ctx
from app.components import charts, display
from app.components.alerts import show_decided_alerts
from app.filters import current_filters
from app.formatting import percent, usd
from metrics import overview

filters = current_filters()
since, until = filters.window
st.title("Overview")
st.caption(f"{filters.describe()}; changes are against the {(until - since).days} days before.")

with ctx.friendly_errors():
    show_decided_alerts()

FORMAT = {k.name: k for k in overview.KPIS}


def _shown(value: float, fmt: str) -> str:
    if fmt == "count":
        return f"{value:,.0f}"
    if fmt == "usd":
        return usd(value)
    if fmt == "ms":
        return "n/a" if pd.isna(value) else f"{value:,.0f} ms"
    return percent(value)


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
                st.metric(
                    kpi.label,
                    _shown(values["current"], kpi.fmt),
                    delta=None if pd.isna(values["change"]) else f"{values['change']:+.1%}",
                    delta_color="normal" if kpi.better == "higher" else "inverse" if kpi.better == "lower" else "off",
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
            display.chart(charts.cost_quality(both, dimension, f"By {dimension}"))
            display.table(both, f"cost-quality-by-{dimension}")

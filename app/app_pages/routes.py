"""Routes and latency: the tail by route over time, what escalation does to it, errors and 429s, router overhead."""

import streamlit as st

from app import context as ctx
from app.components import charts, display
from app.filters import current_filters
from app.formatting import help_of, label_of
from metrics import latency

filters = current_filters()
since, until = filters.window
st.title("Routes and latency")
st.caption(filters.describe())

quantile = st.radio(
    "Quantile",
    list(latency.QUANTILES),
    index=1,
    horizontal=True,
    key="routes_quantile",
    format_func=lambda q: q.removesuffix("_ms"),
)
cut = {"since": since, "until": until, "where": filters.where}

st.subheader(f"{quantile.removesuffix('_ms')} latency by route, per day")
st.caption(
    "Every quantile on this page is read from the daily rollup's histograms: within 1.3% of the exact value "
    "(`routewatch metrics latency` gives exact ones)."
)
with ctx.friendly_errors():
    daily = ctx.answer("quantiles", by=["route"], bucket="day", **cut)
    display.chart(charts.lines(daily, "bucket", quantile, "route", "", "", ms=True))

with ctx.friendly_errors():
    st.subheader("Escalated against not escalated", help=help_of("latency"))
    display.table(ctx.answer("quantiles", by=["route", "escalated"], **cut), "latency-by-route-escalated")

    left, right = st.columns(2)
    with left:
        by_escalation = ctx.answer("histograms", by=["escalated"], **cut)
        figure = charts.distribution(
            latency.distribution(by_escalation, ["escalated"]), "escalated", "What the cascade does"
        )
        display.chart(figure)
    with right:
        by_route = ctx.answer("histograms", by=["route"], **cut)
        display.chart(charts.distribution(latency.distribution(by_route, ["route"]), "route", "Latency by route"))

with ctx.friendly_errors():
    st.subheader("Errors by route", help=help_of("error_rate"))
    errors = ctx.metric("error_rate", filters, by=["route"], bucket="day")
    display.chart(charts.lines(errors, "bucket", "error_rate", "route", "", label_of("error_rate"), percent=True))
    kinds = ctx.metric("error_rate", filters, by=["route", "error_type"])
    kinds = kinds[kinds["errors"] > 0].drop(columns=["requests", "error_rate"])
    if kinds.empty:
        st.info("No errors in this period.")
    else:
        rate_limited = int(kinds.loc[kinds["error_type"].str.contains("429"), "errors"].sum())
        st.markdown(f"**{rate_limited:,}** requests failed with HTTP 429 (rate limited) in this period.")
        display.chart(
            charts.bars(kinds, "route", "errors", "Errors by type", "requests", color="error_type", stacked=True)
        )
        display.table(kinds, "errors-by-route-type")

    left, right = st.columns(2)
    with left:
        st.subheader(label_of("ttft"), help=help_of("ttft"))
        display.table(ctx.answer("quantiles", by=["route"], measure="ttft", **cut), "ttft-by-route")
    with right:
        st.subheader(label_of("router_overhead"), help=help_of("router_overhead"))
        display.table(ctx.answer("quantiles", by=["router"], measure="router_latency", **cut), "router-overhead")

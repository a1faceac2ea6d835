"""Routes and latency: the tail by route over time, what escalation does to it, errors and 429s, router overhead."""

import streamlit as st

from app import context as ctx
from app.components import charts
from metrics import latency

filters = ctx.current_filters()
since, until = filters.window
st.title("Routes and latency")
st.caption(filters.describe())

quantile = st.radio("Quantile", list(latency.QUANTILES), index=1, horizontal=True, key="routes_quantile")
daily = ctx.answer("histograms", by=["route"], since=since, until=until, where=filters.where, bucket="day")
st.subheader(f"{quantile.removesuffix('_ms')} latency by route, per day")
st.caption("Read from the daily rollup's histograms (within 1.3% of the exact value); the table below is exact.")
ctx.chart(charts.lines(latency.with_quantiles(daily), "bucket", quantile, "route", "", "ms"))

st.subheader("Exact quantiles: escalated against not escalated", help=ctx.help_of("latency"))
exact = ctx.metric("latency", filters, by=["route", "escalated"])
ctx.table(exact, "latency-by-route-escalated")

left, right = st.columns(2)
with left:
    by_escalation = ctx.answer("histograms", by=["escalated"], since=since, until=until, where=filters.where)
    figure = charts.distribution(
        latency.distribution(by_escalation, ["escalated"]), "escalated", "What the cascade does"
    )
    ctx.chart(figure)
with right:
    by_route = ctx.answer("histograms", by=["route"], since=since, until=until, where=filters.where)
    ctx.chart(charts.distribution(latency.distribution(by_route, ["route"]), "route", "Latency by route"))

st.subheader("Errors by route", help=ctx.help_of("error_rate"))
errors = ctx.metric("error_rate", filters, by=["route"], bucket="day")
ctx.chart(charts.lines(errors, "bucket", "error_rate", "route", "", "error rate", percent=True))
kinds = ctx.metric("error_rate", filters, by=["route", "error_type"])
kinds = kinds[kinds["errors"] > 0].drop(columns=["requests", "error_rate"])
if kinds.empty:
    st.info("No errors in this period.")
else:
    rate_limited = int(kinds.loc[kinds["error_type"].str.contains("429"), "errors"].sum())
    st.markdown(f"**{rate_limited:,}** requests failed with HTTP 429 (rate limited) in this period.")
    ctx.chart(charts.bars(kinds, "route", "errors", "Errors by type", "requests", color="error_type", stacked=True))
    ctx.table(kinds, "errors-by-route-type")

left, right = st.columns(2)
with left:
    st.subheader("Time to first token", help=ctx.help_of("ttft"))
    ctx.table(ctx.metric("ttft", filters, by=["route"]), "ttft-by-route")
with right:
    st.subheader("Router overhead", help=ctx.help_of("router_overhead"))
    ctx.table(ctx.metric("router_overhead", filters, by=["router"]), "router-overhead")

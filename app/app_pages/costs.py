"""Costs: what a resolved request really costs, where the money goes, and what escalations double-pay."""

import streamlit as st

from app import context as ctx
from app import formatting
from app.components import charts, display
from app.filters import FILTER_DIMENSIONS, current_filters
from app.formatting import costs_sentence, help_of, label_of, usd
from metrics.route_costs import DAYS_PER_MONTH, verdicts

filters = current_filters()
since, until = filters.window
st.title("Costs")
st.caption(filters.describe())

# The answer first: what a resolved request costs all-in, against the naive model spend per request.
with ctx.friendly_errors():
    by_route = ctx.metric("cost_per_resolved", filters, by=["route"])
    if by_route.empty or not float(by_route["priced"].sum()):
        st.info(
            "No priced request in this period: each request needs a `cost_usd`, or its model a price in routes.toml "
            "(`routewatch ingest` prices it). Widen the time range in the sidebar if the data is older."
        )
    else:
        st.markdown(costs_sentence(by_route))

st.subheader(label_of("cost_per_resolved"), help=help_of("cost_per_resolved"))
dimension = st.selectbox(
    "Cut by",
    ["route", "model", "final_route", *FILTER_DIMENSIONS, "router"],
    key="costs_by",
    format_func=formatting.label,
)
with ctx.friendly_errors():
    cost = ctx.metric("cost_per_resolved", filters, by=[dimension])
    unpriced = int(cost["unpriced"].sum()) if not cost.empty else 0
    if unpriced:
        st.warning(
            f"{unpriced:,} of {int(cost['requests'].sum()):,} requests are unpriced (neither a cost nor a price in "
            "routes.toml): they are in no cost figure on this page, never counted as $0. The data health page names "
            "their models."
        )
    measures = {
        "cost_per_resolved": "All-in per resolved request",
        "cost_per_request": "Naive: model spend per request",
    }
    shown = cost.melt(id_vars=[dimension], value_vars=list(measures), var_name="measure", value_name="cost").assign(
        measure=lambda f: f["measure"].map(measures)
    )
    title = f"All-in per resolved request beside naive per request, by {formatting.label(dimension).lower()}"
    display.chart(charts.bars(shown, dimension, "cost", title, "cost", "measure", money=True))
    display.table(cost, f"cost-per-resolved-by-{dimension}")

with ctx.friendly_errors():
    st.subheader("Where the money goes", help=help_of("spend_concentration"))
    total = ctx.answer("spend_concentration", since=since, until=until, where=filters.where)
    if not total.empty and total["cost_usd"].iloc[0]:
        share = float(total["top_1pct_share"].iloc[0])
        st.markdown(f"The most expensive **1%** of requests take **{share:.1%}** of the all-in spend.")
    spend = cost.assign(share_of_spend=cost["cost_usd"].astype(float) / float(cost["cost_usd"].astype(float).sum()))
    display.chart(
        charts.bars(
            spend,
            dimension,
            "share_of_spend",
            f"Share of the all-in spend by {formatting.label(dimension).lower()}",
            "",
            percent=True,
        )
    )

with ctx.friendly_errors():
    st.subheader("What escalations double-pay")
    st.caption(
        "An escalated request pays the cheaper attempt and the stronger one. The excess is its spend above a request "
        "sent straight to the same final route, times the escalations."
    )
    double = ctx.answer("double_pay", since=since, until=until, where=filters.where)
    if double.empty:
        st.info("No escalations in this period.")
    else:
        st.markdown(f"Escalations paid **{usd(float(double['double_paid_usd'].sum()))}** more than direct routing.")
        figure = charts.bars(double, "final_route", "double_paid_usd", "Double-paid by final route", "", money=True)
        display.chart(figure)
        display.table(double, "escalation-double-pay")

with ctx.friendly_errors():
    st.subheader(
        "Cheapest first route per resolved request, by task type",
        help="All-in cost per resolved request of each first route within each task type, with its 95% interval (a "
        "ratio of means, clustered by user), and what moving the whole task type to that route would save a month "
        "at the current volume: the same resolved requests at that route's cost per resolved.",
    )
    first = ctx.answer("first_route_costs", dimension="task_type", since=since, until=until, where=filters.where)
    if first.table.empty:
        st.info("No requests in this period.")
    else:
        st.caption(
            f"Over {first.days} days of traffic; monthly figures are scaled to {DAYS_PER_MONTH} days. This compares "
            "requests of one task type as if alike whichever route they started on: a router that starts the harder "
            "ones on the frontier makes the frontier look dearer than it is."
        )
        for sentence in verdicts(first):
            st.success(sentence)
        title = "All-in cost per resolved request by first route"
        figure = charts.bars(first.table, "task_type", "cost_per_resolved", title, "", "route", money=True)
        display.chart(figure)
        display.table(first.table, "cheapest-first-route-by-task-type")

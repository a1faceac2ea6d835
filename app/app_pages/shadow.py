"""Shadow router: how often a candidate router would choose differently, and what it would cost."""

import streamlit as st

from app import context as ctx
from app.components import charts, display
from app.filters import FILTER_DIMENSIONS, current_filters
from app.formatting import help_of, percent, usd

filters = current_filters()
st.title("Shadow router")
st.caption(filters.describe())

dimension = st.selectbox("Cut by", ["route", *FILTER_DIMENSIONS], key="shadow_by")
with ctx.friendly_errors():
    cut = ctx.metric("shadow_divergence", filters, by=[dimension])
    compared = int(cut["compared"].sum()) if not cut.empty else 0
    if not compared:
        st.info("No request in this period carries a `shadow_route`.")
        st.markdown(
            "Run a candidate router beside the live one, without acting on it, and send its choice with each "
            "request as `shadow_route` (the route it would have picked). routewatch then shows how often the two "
            "disagree, for which segments, and what the candidate would have cost more or less, priced at each "
            "route's mean spend per request in the same period. Nothing changes for your users while you measure."
        )
    else:
        left, middle, right, last = st.columns(4)
        left.metric("Requests compared", f"{compared:,}", help=help_of("shadow_divergence"))
        middle.metric("Would route differently", percent(int(cut["diverged"].sum()) / compared))
        priced = cut["shadow_cost_delta_usd"].dropna()
        right.metric(
            "Predicted cost delta",
            usd(float(priced.astype(float).sum())) if len(priced) else "unknown",
            help="What the shadow router's choices would have cost more (or less) in this period, over the requests "
            "whose shadow route has a price.",
        )
        last.metric(
            "Unpriced",
            f"{int(cut['unpriced'].sum()):,}",
            help="Diverged requests whose shadow route served nothing in this period: no price, so no cost delta.",
        )
        display.table(cut, f"shadow-by-{dimension}")
        daily = ctx.metric("shadow_divergence", filters, by=["route"], bucket="day")
        display.chart(
            charts.lines(daily, "bucket", "shadow_divergence", "route", "Divergence by live route", "share", True)
        )

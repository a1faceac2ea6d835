"""Shadow router: how often a candidate router would choose differently, and what it would cost."""

import streamlit as st

from app import context as ctx
from app import formatting
from app.components import charts, display
from app.filters import FILTER_DIMENSIONS, current_filters
from app.formatting import help_of, percent, usd
from metrics import shadow_quality


def _signed_usd(value: float) -> str:
    """A cost difference with its sign: +$20.89 more, -$2.52 less."""
    return f"+{usd(value)}" if value > 0 else usd(value)


filters = current_filters()
st.title("Shadow router")
st.caption(filters.describe())

dimension = st.selectbox("Cut by", ["route", *FILTER_DIMENSIONS], key="shadow_by", format_func=formatting.label)
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
            _signed_usd(float(priced.astype(float).sum())) if len(priced) else "unknown",
            help="What the shadow router's choices would have cost more (or less) in this period, over the requests "
            "whose shadow route has a price.",
        )
        last.metric(
            "Unpriced",
            f"{int(cut['unpriced'].sum()):,}",
            help="Diverged requests whose shadow route served nothing in this period: no price, so no cost delta.",
        )

        delta = float(priced.astype(float).sum()) if len(priced) else None
        cost = (
            ""
            if delta is None
            else f"; following it would have cost **{usd(abs(delta))} {'more' if delta > 0 else 'less'}**"
        )
        st.markdown(
            f"From {filters.first:%Y-%m-%d} to {filters.last:%Y-%m-%d}, the shadow router would have routed "
            f"**{percent(int(cut['diverged'].sum()) / compared)}** of {compared:,} compared requests differently"
            f"{cost}. Whether its choices would serve users as well is below."
        )

        st.subheader(
            "Quality on the disagreements",
            help="Where the shadow router would choose a cheaper (or dearer) route, the quality of the answers users "
            "got, against the requests both routers send to the route the shadow chose, standardized to the "
            "disagreements' mix of route and task type (the gap statistics of the Segments page: intervals "
            "clustered by user, corrected across every comparison).",
        )
        segment_by = st.selectbox("Segments", FILTER_DIMENSIONS, key="shadow_quality_by", format_func=formatting.label)
        since, until = filters.window
        order = ctx.settings().route_order
        quality = ctx.answer(
            "shadow_quality", dimension=segment_by, route_order=order, since=since, until=until, where=filters.where
        )
        st.markdown(shadow_quality.enough_words(quality))
        for sentence in shadow_quality.findings(quality):
            st.warning(sentence)
        # At the disagreements' mix, with its own interval: the gap the status and the sentences above judge.
        judged = formatting.at_same_task_mix(quality.table).dropna(subset=["gap", "ci_low", "ci_high"])
        if not judged.empty:
            label = judged["segment"] + " · " + judged["direction"]
            both = judged["disagreed"] + judged["agreed"]  # users are counted for the agreements alone
            shown = judged.drop(columns="users").assign(segment=label, reference="disagreements", requests=both)
            title = "Agreements minus disagreements, with 95% intervals"
            display.chart(charts.forest(shown, title, against="the disagreements"))
        display.table(quality.table, f"shadow-quality-by-{segment_by}")

        st.subheader("Divergence by route, day by day")
        display.table(cut, f"shadow-by-{dimension}")
        daily = ctx.metric("shadow_divergence", filters, by=["route"], bucket="day")
        display.chart(
            charts.lines(
                daily, "bucket", "shadow_divergence", "route", "Divergence by live route", "share compared", True
            )
        )

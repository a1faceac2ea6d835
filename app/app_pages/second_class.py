"""Second-class users: the segments served worse, with the evidence a PM can forward, and past decisions."""

from datetime import UTC, datetime, time, timedelta

import pandas as pd
import streamlit as st

from app import context as ctx
from app.components import charts, display
from app.components.alerts import show_decided_alerts
from app.filters import current_filters
from app.formatting import help_of, percent, usd
from metrics.decisions import second_class_users

filters = current_filters()
st.title("Second-class users")
st.markdown(
    "A segment is second-class when its resolution or thumbs-up rate is worse than its reference by at least "
    "the margin, at the same task mix, confirmed after correcting for every comparison; **critical** when the "
    "router also escalates it less."
)
with ctx.friendly_errors():
    decided = show_decided_alerts()
    explore = st.toggle(
        "Also judge the sidebar's period now (exploratory: an estimate, not a decision)",
        key="second_class_explore",
        help="Runs the gap statistics on the chosen days and cut. Decisions come only from `routewatch decide`.",
    )
    if explore:
        current = second_class_users(ctx.gap_table(filters))
        (since, until), where = filters.window, filters.where
        st.caption(f"Computed now over {filters.describe()} (exploratory, not a stored decision).")
    elif decided is not None:
        current = decided.users
        since = datetime.combine(decided.first_day, time(), tzinfo=UTC)
        until = datetime.combine(decided.last_day + timedelta(days=1), time(), tzinfo=UTC)
        where = {}
    else:
        current = second_class_users(pd.DataFrame(columns=["dimension", "segment", "metric", "status"]))
    if not current.empty:
        pairs = [(str(row.dimension), str(row.segment)) for row in current.itertuples()]
        reach = ctx.answer("touched_users", segments=pairs, since=since, until=until, where=where)
        reach = reach.set_index(["dimension", "segment"])
    for row in current.itertuples():
        with st.container(border=True):
            st.markdown(f"#### {row.dimension} = {row.segment} · {row.severity}")
            st.markdown(row.evidence)
            scored = ctx.answer("calibration", dimension=row.dimension, since=since, until=until, where=where).tests
            mis = scored[(scored["segment"] == row.segment) & scored["under_rated"]]
            for sentence in mis["evidence"]:
                st.markdown(f"Why: {sentence}.")
            mine = reach.loc[(row.dimension, row.segment)]
            left, middle, right = st.columns(3)
            left.metric(
                "Users touched", f"{int(mine['users']):,}", help="Distinct users of this segment in the period."
            )
            middle.metric("Share of users", percent(mine["share"]), help="Their share of all users in the period.")
            right.metric("Their model spend", usd(float(mine["cost_usd"])), help=help_of("volume"))
            daily = ctx.metric("resolution_rate", filters, by=[row.dimension], bucket="day")
            pair = daily[daily[row.dimension].isin([row.segment, row.reference])]
            title = f"Resolution rate, {row.segment} against {row.reference}"
            display.chart(
                charts.lines(pair, "bucket", "resolution_rate", row.dimension, title, "resolved", percent=True)
            )
    if explore and current.empty:
        st.success("No segment of language, channel or tier is second-class in the sidebar's period.")
    if not current.empty:
        display.table(current, "second-class-users")

with ctx.friendly_errors():
    st.subheader("Decisions over time")
    st.caption(
        "`routewatch decide` judges each closed day once and keeps the verdict; a CUSUM raises an early warning "
        "when a gap builds up over days, and each Sunday's verdict is the weekly audit of its ISO week. "
        "The Alerts page acknowledges and mutes what they raise; `routewatch alerts run` mails them."
    )
    history = ctx.answer("decision_history")
    if history.empty:
        st.info("No confirmed gap or early warning stored yet. Run `routewatch decide` (daily, after the ingest).")
    else:
        display.table(history, "decision-history")

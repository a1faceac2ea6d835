"""Second-class users: the segments served worse, with the evidence a PM can forward, and past decisions."""

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from app import context as ctx
from app import formatting
from app.components import charts, display
from app.components.alerts import show_decided_alerts
from app.filters import current_filters
from app.formatting import help_of
from metrics.decisions import second_class_users


def _window_metric(name: str, dimension: str, since: datetime, until: datetime, where: dict[str, str]) -> pd.DataFrame:
    """A metric by ``dimension`` over the verdict's window (not the sidebar's)."""
    return ctx.answer(
        "metric",
        name=name,
        by=[dimension],
        since=since,
        until=until,
        where=where,
        bucket=None,
        cheap_route=ctx.settings().route_order[0],
        reask_window_s=ctx.settings().reask_window_s,
    )


def _at(frame: pd.DataFrame, segment: str, column: str) -> float:
    return float(frame.loc[segment, column]) if segment in frame.index else float("nan")


def router_words(router: dict[str, pd.DataFrame], row: Any) -> str:
    """What the router does to a segment against its reference: escalation, the cheap route, the all-in cost."""
    parts = []
    for name, words in (("escalation_rate", "escalates"), ("cheap_share", "sends to the cheap route")):
        ours, theirs = _at(router[name], row.segment, name), _at(router[name], row.reference, name)
        parts.append(
            f"{words} {formatting.percent(ours)} of their requests ({formatting.percent(theirs)} for {row.reference})"
        )
    ours = _at(router["cost_per_resolved"], row.segment, "cost_per_resolved")
    theirs = _at(router["cost_per_resolved"], row.reference, "cost_per_resolved")
    against = f"{formatting.usd(theirs)} for {row.reference}"
    parts.append(f"and a resolved request of theirs costs {formatting.usd(ours)} all-in ({against})")
    return "it " + ", ".join(parts) + "."


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
    # Whether the router under-rates them: a calibration model over every scored request of the period (tens of
    # seconds at ten million requests), so it runs when asked.
    why = not current.empty and st.toggle(
        "Also test whether the router's score under-rates them (a model over every scored request of the period)",
        key="second_class_calibration",
    )
    if not current.empty:
        pairs = [(str(row.dimension), str(row.segment)) for row in current.itertuples()]
        reach = ctx.answer("touched_users", segments=pairs, since=since, until=until, where=where)
        reach = reach.set_index(["dimension", "segment"])
    for row in current.itertuples():
        with st.container(border=True):
            icon = ":red[:material/error:]" if row.severity == "critical" else ":orange[:material/warning:]"
            st.markdown(f"#### {icon} {formatting.label(str(row.dimension))} = {row.segment} · {row.severity}")
            st.markdown(f"**Evidence:** {row.evidence}")
            if why:
                with st.spinner("Testing the router score's calibration ..."):
                    scored = ctx.answer(
                        "calibration", dimension=row.dimension, since=since, until=until, where=where
                    ).tests
                mis = scored[(scored["segment"] == row.segment) & scored["under_rated"]]
                for sentence in mis["evidence"]:
                    st.markdown(f"Why: {sentence}.")
            router = {
                name: _window_metric(name, str(row.dimension), since, until, where).set_index(row.dimension)
                for name in ("escalation_rate", "cheap_share", "cost_per_resolved", "resolution_rate")
            }
            st.markdown(f"**What the router does to them** (against {row.reference}): " + router_words(router, row))
            mine = reach.loc[(row.dimension, row.segment)]
            cells = st.columns(5)
            cells[0].metric(
                "Users touched", formatting.count(mine["users"]), help="Distinct users of this segment in the period."
            )
            cells[1].metric(
                "Share of users", formatting.percent(mine["share"]), help="Their share of all users in the period."
            )
            cells[2].metric("Their model spend", formatting.usd(float(mine["cost_usd"])), help=help_of("volume"))
            for cell, name in zip(cells[3:], ("resolution_rate", "escalation_rate"), strict=True):
                ours, theirs = (_at(router[name], key, name) for key in (row.segment, row.reference))
                cell.metric(
                    formatting.label(name),
                    formatting.percent(ours),
                    delta=f"{formatting.points(ours - theirs)} against {row.reference}",
                    delta_color="normal" if name == "resolution_rate" else "off",
                    help=help_of(name),
                )
            daily = ctx.metric("resolution_rate", filters, by=[row.dimension], bucket="day")
            pair = daily[daily[row.dimension].isin([row.segment, row.reference])]
            title = f"Resolution rate, {row.segment} against {row.reference}, per day"
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

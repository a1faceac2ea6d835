"""Segments: who is served worse and by how much, first in words, then as a forest plot of every gap against the
margin and the table in readable columns. Then, each drawn when opened: every column, the task mix when it explains a
gap, a heatmap and the cheap share over time; and the router score's calibration, tested when asked."""

from typing import Any

import pandas as pd
import streamlit as st

from app import context as ctx
from app import formatting
from app.components import charts, display
from app.filters import FILTER_DIMENSIONS, current_filters
from app.formatting import help_of
from metrics import calibration
from metrics.gaps import ALL_METRICS, DEFAULT_METRICS, STATUS_WORDS, Status, traffic_to_decide
from metrics.registry import METRICS

# The heatmap's rates: every binary metric of the metric table.
RATES = [m.name for m in METRICS if m.kind == "binary"]

filters = current_filters()
st.title("Segments")
st.caption(filters.describe())
left, right = st.columns(2)
dimensions = left.multiselect(
    "Compare segments of (one or two dimensions)",
    [*FILTER_DIMENSIONS, *ctx.answer("segment_dimensions")],  # every segments.<key> too
    default=["language"],
    max_selections=2,
    key="segments_dims",
    format_func=formatting.label,
)
chosen = right.multiselect(
    "Metrics", list(ALL_METRICS), default=list(DEFAULT_METRICS), key="segments_metrics", format_func=formatting.label
)
if not dimensions or not chosen:
    st.info("Choose at least one dimension and one metric.")
    st.stop()

table = ctx.gap_table(filters, tuple(dimensions), chosen)
if table.empty:
    st.info(
        "Nothing to compare: each chosen dimension has a single segment in this cut. Clear the sidebar's segment "
        "filter, or choose a dimension whose segments differ (`routewatch gaps --by language` lists them)."
    )
    st.stop()
table = table.assign(
    in_plain_words=table["status"].map(STATUS_WORDS),
    more_requests_to_decide=traffic_to_decide(table),
)

# The answer first: who is served worse, by how much, in one line each (a gap in the better direction is no alarm).
# Gaps at the same task mix with their own interval: what each status judges, and what the alerts say.
adjusted = formatting.at_same_task_mix(table)
lead = adjusted[adjusted["status"].isin([Status.CONFIRMED, Status.WARNING])]
lead = lead.assign(direction=[formatting.gap_direction(str(r.metric), r.gap) for r in lead.itertuples()])
worse, different = lead[lead["direction"] == "worse"], lead[lead["direction"] == "different"]


def _line(row: Any) -> str:
    metric = str(row.metric)
    return (
        f"- {formatting.status(str(row.status))} · **{row.dimension} = {row.segment}**: "
        f"{formatting.label(metric).lower()} {formatting.metric_value(metric, row.value)} against "
        f"{formatting.metric_value(metric, row.reference_value)} for {row.reference}, "
        f"**{formatting.gap_interval(metric, row.gap, row.ci_low, row.ci_high)}** at the same task mix "
        f"({formatting.count(row.users)} users, {formatting.count(row.requests)} requests)"
    )


if worse.empty:
    st.success(
        f"No segment of {', '.join(dimensions)} is served worse beyond the margin on "
        f"{', '.join(formatting.label(m).lower() for m in chosen)} in this period."
    )
else:
    st.error("**Served worse**\n\n" + "\n".join(_line(r) for r in worse.itertuples()), icon=":material/warning:")
if not different.empty:
    st.warning(
        "**Routed differently** (neither direction is better in itself)\n\n"
        + "\n".join(_line(r) for r in different.itertuples()),
        icon=":material/alt_route:",
    )

ctx.show_no_feedback(filters)
judged = adjusted.dropna(subset=["gap", "ci_low", "ci_high"])
st.subheader("Each segment against its reference")
st.caption(
    "A dot is a segment's gap against its dimension's largest segment at the same task mix (the gap its status "
    "judges), the bar its 95% interval, the grey band the margin a gap must pass to matter. Rates in percentage "
    "points (pp); p95 latency and cost as a relative change. "
    "Statuses are corrected across every comparison on this page (Benjamini-Hochberg)."
)
if judged.empty:
    st.info(
        "No comparison has an interval yet: every segment has too few requests, users or ratings in this period. "
        "Widen the time range in the sidebar."
    )
else:
    display.chart(charts.forest(judged, ""))

st.subheader("The table")
readable = pd.DataFrame(
    {
        "Segment": [f"{d} = {s}" for d, s in zip(table["dimension"], table["segment"], strict=True)],
        "Metric": table["metric"].map(lambda m: formatting.label(str(m))),
        "Status": table["status"].map(formatting.status),
        "Segment's value": [formatting.metric_value(str(r.metric), r.value) for r in table.itertuples()],
        "Reference": [
            f"{r.reference}: {formatting.metric_value(str(r.metric), r.reference_value)}" for r in table.itertuples()
        ],
        "Gap at the same task mix (95% interval)": [
            formatting.gap_interval(str(r.metric), r.gap, r.ci_low, r.ci_high) for r in adjusted.itertuples()
        ],
        "Users": table["users"].map(formatting.count),
        "Requests": table["requests"].map(formatting.count),
    }
)
# A plain table: few columns, every value already in words and units.
st.table(readable, hide_index=True, border="horizontal")
shown = [
    "dimension", "segment", "reference", "metric", "status", "in_plain_words", "value", "reference_value", "gap",
    "ci_low", "ci_high", "adjusted_gap", "p_value", "p_adjusted", "requests", "users", "more_requests_to_decide",
]  # fmt: skip
# What follows adds to the answer above without changing it: each part runs when opened, so the answer is on screen
# first (a chart or grid drawn costs its query, its figure and its code in the browser).
every_column = "Every column: the raw gap, p-values, the traffic that would decide"
with display.when_opened(every_column, "segments_every_column") as opened:
    if opened:
        display.table(
            table[shown],
            "gaps",
            column_config={
                "more_requests_to_decide": st.column_config.NumberColumn("More requests to decide", format="localized")
            },
        )
undecided = table[table["status"] == Status.UNDERPOWERED]
for row in undecided.itertuples():
    st.caption(
        f"{row.dimension} = {row.segment}, {formatting.label(str(row.metric)).lower()}: no gap shown yet, and not "
        f"enough traffic to rule one out; about {row.more_requests_to_decide:,.0f} more requests of this segment "
        "would decide a gap of the margin."
    )

explained = table[table["status"] == Status.EXPLAINED_BY_TASK_MIX]
for dimension in explained["dimension"].unique():
    label = f"Task mix by {formatting.label(dimension).lower()}: what each segment asks, which explains its gap"
    with display.when_opened(label, f"segments_task_mix_{dimension}") as opened:
        if opened:
            st.caption("These segments ask different things; within each task type the gap disappears or reverses.")
            mix = ctx.metric("escalation_rate", filters, by=[dimension, "task_type"])
            display.chart(charts.shares(mix, dimension, "task_type", "requests", "What each segment asks"))
            display.table(mix, f"task-mix-{dimension}")


# Fixed labels: an expander is known by its label too, and one naming the chosen dimension would close when it changes.
with display.when_opened("Heatmap: a rate by two dimensions at once", "segments_heatmap") as opened:
    if opened:
        rate = st.selectbox(
            "Metric", RATES, key="segments_heatmap_metric", help=help_of("escalation_rate"),
            format_func=formatting.label, persist_state="page",  # kept while the expander is closed
        )  # fmt: skip
        partner = "language" if dimensions[0] == "channel" else "channel"
        x, y = dimensions if len(dimensions) == 2 else [dimensions[0], partner]
        cells = ctx.metric(rate, filters, by=[x, y])
        title = f"{formatting.label(rate)} by {formatting.label(x).lower()} and {formatting.label(y).lower()}"
        display.chart(charts.heatmap(cells, x, y, rate, title, percent=True))

cheap_title = f"{formatting.label_of('cheap_share')} over time, per segment"
with display.when_opened(cheap_title, "segments_cheap_share") as opened:
    if opened:
        st.caption(f"Per {formatting.label(dimensions[0]).lower()}. {help_of('cheap_share')}")
        cheap = ctx.metric("cheap_share", filters, by=[dimensions[0]], bucket="day")
        display.chart(
            charts.lines(cheap, "bucket", "cheap_share", dimensions[0], "", "share on the cheap route", percent=True)
        )
        display.table(cheap, f"cheap-share-by-{dimensions[0]}")


def _show_calibration(dimension: str) -> None:
    """The calibration test of ``dimension``'s segments on one outcome, its curves and its verdicts."""
    outcome = st.selectbox(
        "Outcome at the same router score",
        list(calibration.OUTCOMES),
        index=1,
        key="segments_calibration_outcome",
        format_func=formatting.label,
        help=help_of("resolution_rate"),
    )
    since, until = filters.window
    with st.spinner("Testing the calibration on every scored request of the period ..."):
        scored = ctx.answer(
            "calibration", dimension=dimension, metrics=[outcome], since=since, until=until, where=filters.where
        )
    if scored.reference is None:
        st.info(
            "No request in this period carries a `router_score`: send the router's difficulty score to calibrate it."
        )
        return
    st.caption(
        f"Each {dimension} binned on the quintiles of {scored.reference}'s router scores; the test compares the "
        "outcome at the same score (a logit on the segment and the score bin, errors clustered by user)."
    )
    curve = scored.curves.assign(score=scored.curves["mean_score"].round(2))
    title = f"{formatting.label(outcome)} by router score, per {formatting.label(dimension).lower()}"
    figure = charts.lines(curve, "score", "rate", "segment", title, formatting.label(outcome), percent=True)
    display.chart(figure.update_xaxes(title="router score"))
    for row in scored.tests[scored.tests["status"] == Status.CONFIRMED].itertuples():
        (st.warning if row.under_rated else st.info)(row.evidence)
    display.table(scored.tests, f"calibration-{dimension}")


st.subheader("Router-score calibration", help="Does the router's difficulty score mean the same for every segment?")
# The test fits a model on every scored request of the period (tens of seconds at ten million requests), so it runs
# when asked, not on every visit.
if st.toggle(
    f"Test the router score's calibration per {formatting.label(dimensions[0]).lower()}",
    key="segments_calibration_on",
    help="Fits a logit of the outcome on the segment and the score bin over every scored request of the period "
    "(errors clustered by user): a few seconds per million requests.",
):
    _show_calibration(dimensions[0])
else:
    st.caption(
        "Off until asked: it compares each segment's outcome with its reference's at the same router score, over "
        "every scored request of the period."
    )

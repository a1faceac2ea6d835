"""Segments: the gap table with intervals and statuses in plain words, a forest plot, a heatmap, cheap share
over time, and the task mix when it explains a gap."""

import streamlit as st

from app import context as ctx
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
)
chosen = right.multiselect("Metrics", list(ALL_METRICS), default=list(DEFAULT_METRICS), key="segments_metrics")
if not dimensions or not chosen:
    st.info("Choose at least one dimension and one metric.")
    st.stop()

table = ctx.gap_table(filters, tuple(dimensions), chosen)
st.subheader("Gaps against each dimension's reference segment")
st.caption(
    "Each segment against the largest one. Intervals are 95%, p-values are corrected across every comparison "
    "on this page (Benjamini-Hochberg), and the adjusted gap holds the task mix at the reference's."
)
if table.empty:
    st.info("Nothing to compare: each dimension has a single segment in this cut.")
    st.stop()
table = table.assign(
    in_plain_words=table["status"].map(STATUS_WORDS),
    more_requests_to_decide=traffic_to_decide(table),
)
shown = [
    "dimension", "segment", "reference", "metric", "status", "in_plain_words", "value", "reference_value", "gap",
    "ci_low", "ci_high", "adjusted_gap", "p_adjusted", "requests", "users", "more_requests_to_decide",
]  # fmt: skip
display.table(table[shown], "gaps")
undecided = table[table["status"] == Status.UNDERPOWERED]
for row in undecided.itertuples():
    st.caption(
        f"{row.dimension} = {row.segment}, {row.metric}: no gap shown yet, and not enough traffic to rule one out; "
        f"about {row.more_requests_to_decide:,.0f} more requests of this segment would decide a gap of the margin."
    )

judged = table.dropna(subset=["gap", "ci_low", "ci_high"])
if not judged.empty:
    display.chart(charts.forest(judged, "Gaps with their 95% intervals"))

explained = table[table["status"] == Status.EXPLAINED_BY_TASK_MIX]
for dimension in explained["dimension"].unique():
    st.subheader(f"Task mix by {dimension}")
    st.caption("These segments ask different things; within each task type the gap disappears or reverses.")
    mix = ctx.metric("escalation_rate", filters, by=[dimension, "task_type"])
    display.chart(charts.shares(mix, dimension, "task_type", "requests", "What each segment asks"))
    display.table(mix, f"task-mix-{dimension}")

st.subheader("Router-score calibration", help="Does the router's difficulty score mean the same for every segment?")
outcome = st.selectbox(
    "Outcome at the same router score",
    list(calibration.OUTCOMES),
    index=1,
    key="segments_calibration_outcome",
    help=help_of("resolution_rate"),
)
since, until = filters.window
scored = ctx.answer(
    "calibration", dimension=dimensions[0], metrics=[outcome], since=since, until=until, where=filters.where
)
if scored.reference is None:
    st.info("No request in this period carries a `router_score`: send the router's difficulty score to calibrate it.")
else:
    st.caption(
        f"Each {dimensions[0]} binned on the quintiles of {scored.reference}'s router scores; the test compares the "
        "outcome at the same score (a logit on the segment and the score bin, errors clustered by user)."
    )
    curve = scored.curves.assign(score=scored.curves["mean_score"].round(2))
    title = f"{outcome} by router score, per {dimensions[0]}"
    display.chart(charts.lines(curve, "score", "rate", "segment", title, outcome, percent=True))
    for row in scored.tests[scored.tests["status"] == Status.CONFIRMED].itertuples():
        (st.warning if row.under_rated else st.info)(row.evidence)
    display.table(scored.tests, f"calibration-{dimensions[0]}")

st.subheader("Heatmap")
rate = st.selectbox("Metric", RATES, key="segments_heatmap_metric", help=help_of("escalation_rate"))
partner = "language" if dimensions[0] == "channel" else "channel"
x, y = dimensions if len(dimensions) == 2 else [dimensions[0], partner]
cells = ctx.metric(rate, filters, by=[x, y])
display.chart(charts.heatmap(cells, x, y, rate, f"{rate} by {x} and {y}", percent=True))

st.subheader("Cheap-route share over time", help=help_of("cheap_share"))
cheap = ctx.metric("cheap_share", filters, by=[dimensions[0]], bucket="day")
display.chart(charts.lines(cheap, "bucket", "cheap_share", dimensions[0], "", "cheap share", percent=True))
display.table(cheap, f"cheap-share-by-{dimensions[0]}")

"""Data health: the ingest ledger, what the quarantine holds and why, freshness and feedback coverage."""

import pandas as pd
import streamlit as st

from app import context as ctx
from app.components import charts, display
from app.filters import current_filters
from app.formatting import help_of, label_of
from metrics import health

filters = current_filters()
st.title("Data health")

with ctx.friendly_errors():
    fresh = ctx.answer("freshness")
    left, middle, right, last = st.columns(4)
    left.metric("Live requests", f"{int(fresh['requests']):,}")
    middle.metric(
        "Late feedback events",
        f"{int(fresh['feedback_events']):,}",
        help="Feedback that arrived as its own event after its request. Feedback sent with the request (`thumb`, "
        "`csat`, `resolved`) is in the request's row: feedback coverage, below, counts both.",
    )
    # Short enough for a tile; the year and the seconds are in the help.
    for cell, name, words in ((right, "newest_request", "Newest request"), (last, "last_ingest", "Last ingest")):
        at = pd.Timestamp(fresh[name])
        cell.metric(f"{words} (UTC)", f"{at:%b %d, %H:%M}", help=f"{at:%Y-%m-%d %H:%M:%S} UTC")


def _finding(title: str, help: str, found: bool, warning: str, fine: str) -> None:
    """A panel that names a data problem when there is one, else says that all is well."""
    st.subheader(title, help=help)
    if found:
        st.warning(f"{title}: {warning}.")
    else:
        st.success(fine)


with ctx.friendly_errors():
    orphans = ctx.answer("orphan_feedback")
    _finding(
        "Orphan feedback",
        "Feedback events whose request was never loaded. They are kept: a request that arrives late still gets its "
        "feedback. Old ones point at requests lost upstream or at wrong request ids.",
        bool(orphans["orphan_events"]),
        health.describe_orphans(orphans),
        "No orphan feedback: every feedback event rates a loaded request.",
    )

with ctx.friendly_errors():
    unpriced = ctx.answer("unpriced")
    _finding(
        "Unpriced requests",
        "Requests with neither a reported cost nor a price in routes.toml. They are loaded with no cost: they count "
        "in volume and quality, and in no cost figure (never as $0).",
        bool(unpriced["unpriced"]),
        health.describe_unpriced(unpriced),
        "No unpriced requests: every request has a cost.",
    )

with ctx.friendly_errors():
    st.subheader("Quarantine")
    reasons = ctx.answer("quarantine", samples=3)
    if reasons.empty:
        st.success("Nothing quarantined: every row read so far met the data contract.")
    else:
        st.markdown(
            f"**{int(reasons['rows'].sum()):,}** reasons on quarantined rows, by reason (a row can fail several):"
        )
        display.table(
            reasons, "quarantine-reasons", column_config={"samples": st.column_config.TextColumn(width="large")}
        )

with ctx.friendly_errors():
    st.subheader("Ingest batches")
    display.table(ctx.answer("batches", limit=200), "ingest-batches")

with ctx.friendly_errors():
    st.subheader(label_of("feedback_coverage"), help=help_of("feedback_coverage"))
    st.caption(filters.describe())
    coverage = ctx.metric("feedback_coverage", filters, by=["channel"], bucket="day")
    display.chart(charts.lines(coverage, "bucket", "feedback_coverage", "channel", "", "share rated", percent=True))

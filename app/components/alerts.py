"""The decided second-class users and early warnings, as the Overview and Second-class pages show them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.context import SECOND_CLASS_DIMENSIONS, answer
from metrics import decisions


def show_decided_alerts() -> decisions.Verdict | None:
    """The second-class users of the latest weekly audit and the latest early warnings, as stored by
    `routewatch decide` (the same verdict `routewatch second-class` gives for that week); returns that audit's
    verdict, or None before the first."""
    latest = answer("latest_decisions")
    if latest.empty:
        st.info(
            "No decisions yet, so no verdict on second-class users: nothing has judged a closed day. Run "
            "`routewatch decide` after each day's ingest (daily; the demo does).",
            icon=":material/gavel:",
        )
        return None
    found: decisions.Verdict | None = answer("latest_audit", dimensions=list(SECOND_CLASS_DIMENSIONS))
    if found is not None and not found.users.empty:
        count = len(found.users)
        names = ", ".join(f"{r.dimension} = {r.segment}" for r in found.users.itertuples())
        st.markdown(
            f"### {count} segment{'s' if count > 1 else ''} served worse: {names}\n"
            f"Week of {found.first_day} to {found.last_day}, as decided by the weekly audit."
        )
    for row in (found.users if found else latest.iloc[:0]).itertuples():
        st.error(f"**Second-class users, {row.severity}:** {row.evidence}", icon=":material/warning:")
    for row in decisions.early_warnings(latest).itertuples():
        st.warning(f"**Early warning:** {row.evidence}", icon=":material/trending_down:")
    day = f"{pd.Timestamp(latest['window_start'].iloc[0]):%Y-%m-%d}"
    if found is None:
        st.info(
            "No ISO week audited yet, so no verdict on second-class users: the weekly audit runs when "
            "`routewatch decide` judges the Sunday that closes a week."
        )
        return None
    if found.users.empty:
        st.success(f"No second-class users confirmed over {found.first_day} to {found.last_day}.")
    st.caption(
        f"Second-class users over {found.describe()}; early warnings of {day}. Over all traffic: the sidebar "
        "filters do not apply to decisions. `routewatch second-class` prints the same verdict."
    )
    return found

"""Alerts: the incidents the alert job keeps (open, worse, resolved) with their history; acknowledge or snooze one."""

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from alerts.lifecycle import acknowledge, incident_history, incident_table
from alerts.message import AlertItem, format_gap, segment_label, sentence
from alerts.state import revision
from app import context as ctx
from app import formatting
from app.components import display

st.title("Alerts")
st.markdown(
    "One alert per segment and metric, opened by `routewatch alerts run` on a decided gap that the rules watch; "
    "it notifies when new, when worse and when resolved. Acknowledging or snoozing writes to the alert state "
    "database only."
)
engine = ctx.state_engine()
if revision(engine) is None:
    st.info("No alerts yet: `routewatch alerts run` creates the alert state (schedule it hourly; see the README).")
    st.stop()

shown = st.radio("Show", ["Open", "Resolved", "All"], horizontal=True, key="alerts_state")
with engine.connect() as connection:
    frame = incident_table(connection, None if shown == "All" else shown.lower())
if frame.empty:
    st.success(f"No {shown.lower()} alerts." if shown != "All" else "No alerts so far.")
    st.stop()


def _status_words(status: object) -> str:
    return formatting.status(str(status)) if isinstance(status, str) and status else ""


view = pd.DataFrame(
    {
        "alert": frame["id"],
        "state": frame["state"],
        "severity": frame["severity"],
        "segment": [segment_label(row) for row in frame.to_dict("records")],
        "metric": frame["metric"],
        "gap at the same task mix": [
            format_gap(m, g) for m, g in zip(frame["metric"], frame["adjusted_gap"], strict=True)
        ],
        # Three verdicts that can differ, each named: the one that opened the alert, the newest weekly audit's (the
        # second-class verdict of the Overview) and the newest day's (an early warning, or too little data in a day).
        "opened as": frame["opened_status"].map(_status_words),
        "weekly audit": frame["audit_status"].map(lambda s: _status_words(s) if isinstance(s, str) else "not yet"),
        "newest day": frame["status"].map(_status_words),
        "opened": frame["opened_window"],
        "last judged": frame["last_window"],
        "acknowledged by": frame["acknowledged_by"].fillna(""),
        "snoozed until": frame["snoozed_until"].map(lambda d: "" if pd.isna(d) else str(d)),
    }
)
display.table(view, "alerts")

ids = [int(i) for i in frame["id"]]
wanted = st.query_params.get("incident")
default = ids.index(int(wanted)) if wanted and wanted.isdigit() and int(wanted) in ids else 0
chosen = st.selectbox(
    "Alert", ids, index=default, key="alerts_chosen",
    format_func=lambda i: f"#{i} " + segment_label(frame.set_index("id").loc[i].to_dict() | {"id": i}),
)  # fmt: skip
incident = frame.set_index("id").loc[chosen].to_dict() | {"id": chosen}
incident = {k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in incident.items()}
with st.container(border=True):
    metric_words = formatting.label(str(incident["metric"]))
    st.markdown(f"#### #{chosen} {segment_label(incident)} · {metric_words} · {incident['severity']}")
    st.markdown(sentence(AlertItem("resolved" if incident["state"] == "resolved" else "open", incident)))
    if incident["acknowledged_by"]:
        note = f": {incident['note']}" if incident["note"] else ""
        snoozed = f", snoozed until {incident['snoozed_until']}" if incident["snoozed_until"] else ""
        st.caption(f"Acknowledged by {incident['acknowledged_by']}{snoozed}{note}")
    with engine.connect() as connection:
        history = incident_history(connection, chosen)
    st.markdown("**History**")
    events = history[["at", "kind", "window_start", "status", "severity", "adjusted_gap", "actor", "note"]]
    events = events.assign(
        adjusted_gap=[format_gap(incident["metric"], g) if pd.notna(g) else "" for g in events["adjusted_gap"]]
    )
    st.dataframe(
        display.shown_frame(events), hide_index=True, width="stretch", column_config=display.human_columns(events)
    )
    if incident["state"] == "open":
        with st.form(f"acknowledge-{chosen}", clear_on_submit=True):
            who = st.text_input("Your name", key="alerts_who")
            remark = st.text_input("Note", key="alerts_note")
            snooze = st.checkbox("Snooze re-notifications", key="alerts_snooze")
            until = st.date_input("until", value=date.today() + timedelta(days=7), key="alerts_until")
            until = until if isinstance(until, date) else None
            if st.form_submit_button("Acknowledge"):
                if not who.strip():
                    st.error("Say who acknowledges the alert.")
                else:
                    with engine.begin() as connection:
                        acknowledge(connection, chosen, who, remark, until if snooze else None)
                    st.success(f"Alert #{chosen} acknowledged by {who.strip()}.")
                    st.rerun()

"""The routewatch dashboard: the shared frame (page config, sidebar filters) and the navigation."""

import sys
from pathlib import Path

import streamlit as st

# `streamlit run app/streamlit_app.py` puts app/ on the path; the packages live one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import context as ctx
from app.filters import sidebar

st.set_page_config(page_title="routewatch", page_icon=":material/alt_route:", layout="wide")

PAGES = [
    st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("app_pages/routes.py", title="Routes and latency", icon=":material/alt_route:"),
    st.Page("app_pages/segments.py", title="Segments", icon=":material/groups:"),
    st.Page("app_pages/second_class.py", title="Second-class users", icon=":material/report:"),
    st.Page("app_pages/alerts.py", title="Alerts", icon=":material/notifications:"),
    st.Page("app_pages/costs.py", title="Costs", icon=":material/payments:"),
    st.Page("app_pages/shadow.py", title="Shadow router", icon=":material/compare_arrows:"),
    st.Page("app_pages/health.py", title="Data health", icon=":material/monitor_heart:"),
]
page = st.navigation(PAGES)

with ctx.friendly_errors(), ctx.store().batch():
    state, span = ctx.store_state()
    if span is None:
        st.title(page.title)
        ctx.show_how_to_load(state)
    else:
        filters = sidebar(span)
        # Pages that read the sidebar's window say why it is empty instead of drawing empty charts.
        if page.title in ("Alerts", "Data health") or not ctx.window_is_empty(filters):
            page.run()
        else:
            st.title(page.title)
            ctx.show_empty_window(filters)

"""The Streamlit dashboard, read-only: ``streamlit_app`` (the frame: page config, sidebar filters, navigation),
``app_pages/`` (overview, routes and latency, segments, second-class users, costs, shadow router, data health),
``context`` (the store client, cached answers from ``metrics``, filters, friendly errors), ``components/`` (plotly
figures) and ``serve`` (how ``routewatch dashboard`` starts Streamlit wherever routewatch is installed).

Never imports ``ingest``: the dashboard reads the store, it never loads it.
"""

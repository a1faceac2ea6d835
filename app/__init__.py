"""The Streamlit dashboard, read-only: ``streamlit_app`` (the frame: page config, sidebar, navigation),
``app_pages/`` (overview, routes and latency, segments, second-class users, alerts, costs, shadow router, data
health), ``context`` (the store client, cached answers from ``metrics``, the store's readiness, a panel's errors),
``filters`` (the sidebar, kept in the URL), ``formatting`` (numbers and names as people read them),
``components/`` (figures, tables with downloads, the decided verdict) and ``serve`` (how ``routewatch dashboard``
starts Streamlit wherever routewatch is installed).

Never imports ``ingest`` or ``cli``: the dashboard reads the store, it never loads it.
"""

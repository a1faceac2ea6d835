"""The dashboard's Streamlit config, shipped in the wheel as ``routewatch.streamlit_config``.

``routewatch dashboard`` reads ``config.toml`` from the installed package and passes it to Streamlit, so the theme
and privacy settings hold wherever the command runs.
"""

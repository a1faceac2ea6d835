"""Parts pages share: ``charts`` (pure plotly figure builders: a DataFrame in, a figure out, no Streamlit),
``display`` (a table with its CSV download, a chart at the page's width) and ``alerts`` (the decided second-class
users and early warnings)."""

"""Pure plotly figure builders: a DataFrame in, a figure out; no Streamlit, testable on their own."""

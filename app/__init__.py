"""The Streamlit dashboard (pages arrive with the dashboard issue)."""

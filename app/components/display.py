"""Tables with a CSV download of what they show, and charts at the page's width."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from routewatch.output import csv_text


def table(frame: pd.DataFrame, name: str, **options: Any) -> None:
    """A table with a CSV download of exactly what it shows."""
    st.dataframe(frame, hide_index=True, width="stretch", **options)
    st.download_button(
        "Download CSV",
        csv_text(frame).encode(),
        file_name=f"routewatch-{name}.csv",
        mime="text/csv",
        key=f"download-{name}",
    )


def chart(figure: Any) -> None:
    """A plotly figure at the page's width."""
    st.plotly_chart(figure, width="stretch", config={"displaylogo": False})

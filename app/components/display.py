"""Tables with a CSV download of what they show, and charts at the page's width."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from metrics.gaps import STATUS_LABELS
from metrics.registry import COLUMN_FORMATS
from routewatch.output import csv_text

# Streamlit's number formats for the metric table's column formats.
_NUMBER_FORMATS = {
    "count": "localized",
    "percent": "percent",
    "usd": "$%.4f",
    "usd_total": "dollar",
    "ms": "%.0f ms",
    "score": "%.2f",
    "pvalue": "%.2e",
}


def human_columns(frame: pd.DataFrame) -> dict[str, Any]:
    """Streamlit column configs that show each known column of ``frame`` with its label and format (from the
    metric table, metrics.registry.COLUMN_FORMATS); other columns are left as they are."""
    config: dict[str, Any] = {}
    for column in frame.columns:
        if column in COLUMN_FORMATS:
            label, kind = COLUMN_FORMATS[column]
            config[column] = st.column_config.NumberColumn(label, format=_NUMBER_FORMATS[kind])
    return config


def table(frame: pd.DataFrame, name: str, column_config: dict[str, Any] | None = None, **options: Any) -> None:
    """A table in words and units a person reads (statuses with their icon and label, known columns with their
    label and format), with a CSV download of the same rows under their machine names and raw values."""
    shown = frame.assign(status=frame["status"].map(lambda s: STATUS_LABELS.get(s, s))) if "status" in frame else frame
    config = {**human_columns(frame), **(column_config or {})}
    st.dataframe(shown, hide_index=True, width="stretch", column_config=config, **options)
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

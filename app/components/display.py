"""Tables with a CSV download of what they show, and charts at the page's width."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
import streamlit as st

from app import formatting
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
    """Streamlit column configs that show each column of ``frame`` with its label (app.formatting.label) and, for
    the metric table's columns (metrics.registry.COLUMN_FORMATS), its format."""
    config: dict[str, Any] = {}
    for column in frame.columns:
        if column in COLUMN_FORMATS:
            label, kind = COLUMN_FORMATS[column]
            config[column] = st.column_config.NumberColumn(label, format=_NUMBER_FORMATS[kind])
        else:
            config[column] = st.column_config.Column(formatting.label(str(column)))
    return config


def shown_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as a table shows it: statuses with their icon and label, metric names as their label, a group
    whose field was not sent as "(not set)"."""
    shown = formatting.name_groups(frame).copy()
    if "status" in shown:
        shown["status"] = shown["status"].map(formatting.status)
    for column in ("metric", "measure"):
        if column in shown:
            shown[column] = shown[column].map(lambda name: formatting.label(str(name)))
    return shown


def table(
    frame: pd.DataFrame,
    name: str,
    column_config: dict[str, Any] | None = None,
    download: pd.DataFrame | None = None,
    **options: Any,
) -> None:
    """A table in words and units a person reads (statuses with their icon and label, every column with its label,
    known columns with their format), with a CSV download of the same rows under their machine names and raw
    values (``download``: other rows or columns to download instead)."""
    config = {**human_columns(frame), **(column_config or {})}
    st.dataframe(shown_frame(frame), hide_index=True, width="stretch", column_config=config, **options)
    st.download_button(
        "Download CSV",
        csv_text(frame if download is None else download).encode(),
        file_name=f"routewatch-{name}.csv",
        mime="text/csv",
        key=f"download-{name}",
    )


def chart(figure: Any) -> None:
    """A plotly figure at the page's width."""
    st.plotly_chart(figure, width="stretch", config={"displaylogo": False})


@contextmanager
def when_opened(label: str, key: str) -> Iterator[bool]:
    """A collapsed expander whose content runs only while it is open: yields whether it is, so that a part of a page
    costs its query, its figure and its code in the browser only when the reader asks for it (``key``: its state)."""
    with st.expander(label, key=key, on_change="rerun") as section:
        if section.open is None:  # Streamlit tracks an expander's state only with on_change or a binding
            raise RuntimeError(f"the expander {key!r} does not report whether it is open")
        yield section.open

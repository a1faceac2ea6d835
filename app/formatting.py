"""Numbers and metric names as a person reads them."""

from __future__ import annotations

import pandas as pd

from metrics import registry


def label_of(name: str) -> str:
    """The registry's label of a metric."""
    return registry.get(name).label


def help_of(name: str) -> str:
    """The registry's help text of a metric."""
    return registry.get(name).help


def percent(value: float) -> str:
    """0.1234 -> 12.3%."""
    return "n/a" if pd.isna(value) else f"{value:.1%}"


def usd(value: float) -> str:
    """Dollars with precision fit for cents and fractions of a cent."""
    if pd.isna(value):
        return "n/a"
    return f"${value:,.2f}" if abs(value) >= 1 else f"${value:.4f}"

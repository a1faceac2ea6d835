"""Print result frames as an aligned table, a JSON array of row objects, or CSV."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import sys
from typing import IO, Any, Literal

import orjson
import pandas as pd

OutputFormat = Literal["table", "json", "csv"]
OUTPUT_FORMATS = ("table", "json", "csv")


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain Python objects (numbers, strings, ISO timestamps, None)."""
    columns = [str(c) for c in frame.columns]
    return [dict(zip(columns, map(_plain, row), strict=True)) for row in frame.itertuples(index=False, name=None)]


def decimal_text(value: decimal.Decimal) -> str:
    """Money as exact fixed-point text without trailing zeros: Decimal('0.312920000') -> '0.31292'."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _exact(value: Any) -> Any:
    """A cell for JSON and CSV: decimals (money) as their exact digits, anything else as in ``records``."""
    if isinstance(value, decimal.Decimal) and value.is_finite():
        return orjson.Fragment(decimal_text(value).encode())
    return _plain(value)


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` for a CSV file a spreadsheet may open: a text cell that starts like a formula gets a leading
    ``'`` so that it stays text (numbers stay numbers; money keeps its exact digits)."""

    def cell(value: Any) -> Any:
        value = _plain(value) if not isinstance(value, decimal.Decimal) else value
        if isinstance(value, decimal.Decimal):
            return decimal_text(value) if value.is_finite() else str(value)
        if isinstance(value, str) and value.startswith(_FORMULA_START):
            return "'" + value
        return value

    return pd.DataFrame(
        [[cell(v) for v in row] for row in frame.itertuples(index=False, name=None)], columns=frame.columns
    )


def csv_text(frame: pd.DataFrame) -> str:
    """``frame`` as RFC 4180 CSV (CRLF line ends, so that a cell holding a carriage return is quoted), made safe
    for spreadsheets by ``csv_safe``."""
    return csv_safe(frame).to_csv(index=False, lineterminator="\r\n")


def _cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def write(frame: pd.DataFrame, fmt: OutputFormat, out: IO[str] | None = None) -> None:
    """Print ``frame`` to ``out`` (stdout by default) in ``fmt``."""
    out = out or sys.stdout
    if fmt == "json":
        columns = [str(c) for c in frame.columns]
        rows = [dict(zip(columns, map(_exact, row), strict=True)) for row in frame.itertuples(index=False, name=None)]
        out.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
    elif fmt == "csv":
        out.write(csv_text(frame))
    else:
        if frame.empty:
            out.write("(no rows)\n")
            return
        cells = [[str(c) for c in frame.columns]] + [[_cell(v) for v in row] for row in frame.itertuples(index=False)]
        widths = [max(len(row[i]) for row in cells) for i in range(len(frame.columns))]
        for n, row in enumerate(cells):
            out.write(
                "  ".join(
                    c.rjust(w) if n and c[:1].isdigit() else c.ljust(w) for c, w in zip(row, widths, strict=True)
                ).rstrip()
                + "\n"
            )
            if n == 0:
                out.write("  ".join("-" * w for w in widths) + "\n")

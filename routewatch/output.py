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
        out.write(orjson.dumps(records(frame), option=orjson.OPT_INDENT_2).decode() + "\n")
    elif fmt == "csv":
        out.write(pd.DataFrame(records(frame), columns=frame.columns).to_csv(index=False))
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


def progress_bar(label: str, share: float, detail: str) -> None:
    """One line on stderr, redrawn in place: ``label``, a bar for ``share`` of the work and ``detail``; a newline
    once the work is done (used only when stderr is a terminal)."""
    sys.stderr.write(f"\r{label} [{'#' * int(share * 30):30}] {detail}")
    if share >= 1:
        sys.stderr.write("\n")
    sys.stderr.flush()


def stage_progress(stage: str, done: int, total: int) -> None:
    """The progress bar of counted work: ``done`` of ``total`` steps of ``stage``."""
    progress_bar(f"{stage:20}", done / total if total else 1.0, f"{done:>6,} of {total:,}")

"""Data health: the ingest ledger, what the quarantine holds and why, and how fresh the data is."""

from __future__ import annotations

import pandas as pd

from routewatch.sqlfiles import query
from routewatch.store import Store


def ingest_batches(store: Store, limit: int = 200) -> pd.DataFrame:
    """The newest ingest batches (one per input file and run) with their counts and status."""
    return store.query_df(query("health_batches").text, {"limit": limit})


def quarantine_reasons(store: Store, samples: int = 3) -> pd.DataFrame:
    """Quarantined rows by reason, with how many files and the first few lines that failed for it."""
    frame = store.query_df(query("health_quarantine").text, {"samples": samples})
    if frame.empty:
        return pd.DataFrame(columns=["reason", "rows", "files", "samples"])
    frame["samples"] = frame["samples"].map(lambda rows: "\n".join(f"{file}:{line}: {raw}" for file, line, raw in rows))
    return frame


def freshness(store: Store) -> dict[str, object]:
    """The newest request time, the last ingest, and the live request and feedback counts."""
    row = store.query_df(query("health_freshness").text).iloc[0]
    return {name: row[name] for name in row.index}

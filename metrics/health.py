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


def orphan_feedback(store: Store) -> dict[str, object]:
    """Feedback events for requests that never arrived (kept, so that a late request still gets its feedback):
    ``orphan_events``, ``orphan_requests``, ``older_than_1d``, ``older_than_7d`` (event counts by age) and
    ``oldest_orphan`` (the oldest event's ts, UTC, or None)."""
    row = store.query_df(query("health_orphan_feedback").text).iloc[0]
    found: dict[str, object] = {name: int(row[name]) for name in row.index if name != "oldest_orphan"}
    oldest = row["oldest_orphan"]
    found["oldest_orphan"] = None if pd.isna(oldest) else pd.Timestamp(oldest).tz_localize("UTC")
    return found


def describe_orphans(orphans: dict[str, object]) -> str:
    """One line on orphan feedback for people: counts and age."""
    if not orphans["orphan_events"]:
        return "none: every feedback event rates a loaded request"
    oldest = pd.Timestamp(orphans["oldest_orphan"])
    return (
        f"{orphans['orphan_events']:,} events for {orphans['orphan_requests']:,} requests never loaded; "
        f"{orphans['older_than_1d']:,} older than a day, {orphans['older_than_7d']:,} older than a week; "
        f"oldest {oldest:%Y-%m-%d %H:%M} UTC"
    )


def unpriced_requests(store: Store) -> dict[str, object]:
    """Requests with neither a cost nor a price (loaded with cost_usd NULL: in volume and quality, in no cost):
    ``requests`` (live), ``unpriced`` and ``models`` (up to 5 of their models, the most frequent first)."""
    row = store.query_df(query("health_unpriced").text).iloc[0]
    return {"requests": int(row["requests"]), "unpriced": int(row["unpriced"]), "models": list(row["models"])}


def describe_unpriced(found: dict[str, object]) -> str:
    """One line on unpriced requests for people: how many, which models, and what to do."""
    unpriced, requests = int(found["unpriced"]), int(found["requests"])  # type: ignore[call-overload]
    if not unpriced:
        return "none: every request has a cost"
    models = ", ".join(found["models"])  # type: ignore[arg-type]
    return (
        f"{unpriced:,} of {requests:,} requests ({unpriced / requests:.1%}) have neither a cost nor a price "
        f"(models: {models}); they count in volume and quality, in no cost. Add their prices to routes.toml and "
        "ingest them again"
    )


def freshness(store: Store) -> dict[str, object]:
    """The newest request time, the last ingest, and the live request and feedback counts."""
    row = store.query_df(query("health_freshness").text).iloc[0]
    return {name: row[name] for name in row.index}

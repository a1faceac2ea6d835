"""The benchmark's like-for-like reference writes the rows routewatch ingest writes (bench/ingest.py, issue 16)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ingest.load import ingest
from routewatch.migrations import migrate
from routewatch.sqlfiles import query
from routewatch.store import Store

# Who loaded a row and when: the only columns in which the two loads may differ.
BOOKKEEPING = {"batch_id", "source_file", "ingested_at", "version", "written_version"}
ROLLUP_KEY = "day, router, route, final_route, model, language, channel, tier, region, task_type, status, error_type"


def _requests(store: Store) -> pd.DataFrame:
    columns = [c for c in store.query_df("SELECT * FROM requests LIMIT 0").columns if c not in BOOKKEEPING]
    return store.query_df(f"SELECT {', '.join(columns)} FROM requests FINAL ORDER BY request_id")


def _rollup(store: Store) -> pd.DataFrame:
    store.command("OPTIMIZE TABLE rollup_daily FINAL")
    frame = store.query_df(f"SELECT * FROM rollup_daily ORDER BY {ROLLUP_KEY}, escalated, escalation_reason")
    return frame.astype(str)  # the histograms are dicts


def test_the_like_for_like_load_writes_the_rows_and_rollups_routewatch_ingest_writes(
    tmp_path: Path, synthetic_file: Path
) -> None:
    ingested = Store(f"chdb://{tmp_path / 'ingested'}", lock_timeout_s=30)
    report = ingest(ingested, [str(synthetic_file)])
    assert report.total("quarantined") == 0 and report.total("loaded") == 5_000
    reference = Store(f"chdb://{tmp_path / 'reference'}", lock_timeout_s=30)
    migrate(reference)
    reference.command(
        query("bench_like_for_like_load").render(),
        {"path": str(synthetic_file), "batch_id": "reference", "source_file": str(synthetic_file), "version": 1},
    )

    expected, got = _requests(ingested), _requests(reference)
    assert len(got) == len(expected) == 5_000
    assert list(got.columns) == list(expected.columns)
    assert "row_hash" in got.columns and "source_line" in got.columns  # the hash and the line number too
    for column in expected.columns:
        pd.testing.assert_series_equal(got[column], expected[column], check_dtype=False, obj=column)
    pd.testing.assert_frame_equal(_rollup(reference), _rollup(ingested))

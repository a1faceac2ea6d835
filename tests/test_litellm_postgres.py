"""LiteLLM's spend logs straight from a real PostgreSQL, incrementally by startTime with a stored watermark."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ingest import remote
from ingest.load import ingest, state_dir
from ingest.readers import InputError
from routewatch.store import Store
from tests.postgres import postgres_database, postgres_server

__all__ = ["postgres_database", "postgres_server"]  # the fixtures

# LiteLLM_SpendLogs as LiteLLM's schema.prisma creates it (prisma migrate: jsonb for Json, timestamp(3)).
SPEND_LOGS_DDL = """
CREATE TABLE "LiteLLM_SpendLogs" (
    request_id text PRIMARY KEY,
    call_type text NOT NULL,
    api_key text NOT NULL DEFAULT '',
    spend double precision NOT NULL DEFAULT 0.0,
    total_tokens integer NOT NULL DEFAULT 0,
    prompt_tokens integer NOT NULL DEFAULT 0,
    completion_tokens integer NOT NULL DEFAULT 0,
    "startTime" timestamp(3) NOT NULL,
    "endTime" timestamp(3) NOT NULL,
    "completionStartTime" timestamp(3),
    model text NOT NULL DEFAULT '',
    model_id text DEFAULT '',
    model_group text DEFAULT '',
    custom_llm_provider text DEFAULT '',
    api_base text DEFAULT '',
    "user" text DEFAULT '',
    metadata jsonb DEFAULT '{}',
    cache_hit text DEFAULT '',
    cache_key text DEFAULT '',
    request_tags jsonb DEFAULT '[]',
    team_id text,
    organization_id text,
    end_user text,
    requester_ip_address text,
    messages jsonb DEFAULT '{}',
    response jsonb DEFAULT '{}',
    session_id text,
    status text,
    mcp_namespaced_tool_name text,
    proxy_server_request jsonb DEFAULT '{}'
)
"""
T0 = datetime(2026, 9, 1, 10, 0, 0)


def _insert(url: str, rows: list[dict[str, Any]]) -> None:
    import psycopg
    from psycopg.types.json import Jsonb

    with psycopg.connect(url, autocommit=True) as connection:
        for row in rows:
            values = {k: Jsonb(v) if k == "metadata" else v for k, v in row.items()}
            names = ", ".join(f'"{k}"' for k in values)
            marks = ", ".join(f"%({k})s" for k in values)
            connection.execute(f'INSERT INTO "LiteLLM_SpendLogs" ({names}) VALUES ({marks})', values)


def _row(request_id: str, minute: int, **extra: Any) -> dict[str, Any]:
    start = T0 + timedelta(minutes=minute)
    row = {
        "request_id": request_id, "call_type": "acompletion", "spend": 0.001 * (minute + 1), "prompt_tokens": 10,
        "completion_tokens": 20, "startTime": start, "endTime": start + timedelta(seconds=2), "model": "gpt-4o-mini",
        "model_group": "gpt-4o-mini", "user": "key-owner", "end_user": f"user-{minute % 2}", "metadata": {},
        "status": "success",
    }  # fmt: skip
    row.update(extra)
    return row


@pytest.fixture
def spend_logs(postgres_database: str) -> str:
    import psycopg

    with psycopg.connect(postgres_database, autocommit=True) as connection:
        connection.execute(SPEND_LOGS_DDL)
    return postgres_database


def _dsn(url: str) -> str:
    # a password in the DSN (the test server trusts any): it must never be shown
    return url.replace("postgresql://postgres@", "postgresql://postgres:s3cret@", 1) + "&table=LiteLLM_SpendLogs"


def test_a_second_run_loads_only_the_new_rows(store: Store, spend_logs: str) -> None:
    fell_back = {"attempted_fallbacks": 1, "original_model_group": "gpt-4o-mini", "attempted_retries": 1}
    _insert(spend_logs, [
        _row("p1", 0),
        _row("p2", 1, end_user=None),
        _row("p3", 2, model="gpt-4o", model_group="gpt-4o", metadata=fell_back),
    ])  # fmt: skip
    first = ingest(store, [_dsn(spend_logs)])
    assert (first.total("read"), first.total("loaded"), first.total("quarantined")) == (3, 3, 0)
    assert "s3cret" not in json.dumps(first.as_json()) and "LiteLLM_SpendLogs" in first.files[0].file
    live = store.query_df("SELECT request_id, user_id, escalated, retries FROM requests FINAL ORDER BY request_id")
    assert live["user_id"].tolist() == ["user-0", "unknown", "user-0"]  # end_user, not the key's owner
    assert live["escalated"].tolist() == [False, False, True] and live["retries"].tolist() == [0, 0, 1]

    again = ingest(store, [_dsn(spend_logs)])  # nothing new: the row at the watermark is read again, as a duplicate
    assert (again.total("read"), again.total("loaded"), again.total("duplicates")) == (1, 0, 1)

    _insert(spend_logs, [_row("p4", 2), _row("p5", 3), _row("p6", 4)])  # p4 at the watermark's own time
    third = ingest(store, [_dsn(spend_logs)])
    assert (third.total("loaded"), third.total("duplicates")) == (3, 1)
    total = store.query_rows("SELECT count(), sum(cost_usd) FROM requests FINAL")[0]
    assert int(total[0]) == 6 and float(total[1]) == pytest.approx(0.001 * (1 + 2 + 3 + 3 + 4 + 5))
    assert not list((state_dir(store) / "remote").glob("*"))  # spools are removed once loaded


def test_rows_spooled_by_a_run_that_died_before_loading_are_read_again(store: Store, spend_logs: str) -> None:
    _insert(spend_logs, [_row("k1", 0), _row("k2", 1)])
    directory = state_dir(store)
    directory.mkdir(parents=True, exist_ok=True)
    remote.spool(_dsn(spend_logs), directory)  # the run dies here: rows spooled, nothing loaded, no watermark
    report = ingest(store, [_dsn(spend_logs)])
    assert (report.total("read"), report.total("loaded")) == (2, 2)
    assert int(store.query_rows("SELECT count() FROM requests FINAL")[0][0]) == 2


def test_an_unreachable_server_or_a_missing_table_is_a_clear_error(
    store: Store, spend_logs: str, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="cannot read") as raised:
        ingest(store, [f"postgresql://postgres:s3cret@/nowhere?host={tmp_path}&port=1"])
    assert "s3cret" not in str(raised.value)
    with pytest.raises(InputError, match="not a plain table"):
        ingest(store, [_dsn(spend_logs).replace("LiteLLM_SpendLogs", 'x";drop')])
    with pytest.raises(InputError, match="cannot read"):
        ingest(store, [_dsn(spend_logs).replace("LiteLLM_SpendLogs", "NoSuchTable")])

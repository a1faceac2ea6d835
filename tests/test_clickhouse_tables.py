"""Reading the tables teams already have in ClickHouse: the collector's otel_traces and Helicone's
request_response_rmt, created in chDB with those projects' own schemas, incrementally by time."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.load import ingest
from ingest.readers import InputError
from routewatch.migrations import migrate
from routewatch.store import Store

# The OpenTelemetry collector's clickhouseexporter (internal/sql_templates/traces_table.sql), its engine filled in.
OTEL_TRACES = """
CREATE TABLE otel_traces (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (Timestamp DateTime64(9), Name LowCardinality(String), Attributes Map(LowCardinality(String), String))
        CODEC(ZSTD(1)),
    Links Nested (TraceId String, SpanId String, TraceState String, Attributes Map(LowCardinality(String), String))
        CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
) ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp))
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1
"""
# Helicone's clickhouse/migrations/..._request_response_replacing_merge_tree.sql, with the cost column its
# migration 52 adds (USD x 1e9).
REQUEST_RESPONSE_RMT = """
CREATE TABLE request_response_rmt (
    response_id Nullable(UUID),
    response_created_at Nullable(DateTime64(3)),
    latency Nullable(Int64),
    status Int64,
    completion_tokens Nullable(Int64),
    prompt_tokens Nullable(Int64),
    model LowCardinality(String),
    request_id UUID,
    request_created_at DateTime64(3),
    user_id LowCardinality(String),
    organization_id UUID,
    proxy_key_id Nullable(UUID),
    threat Nullable(Bool),
    time_to_first_token Nullable(Int64),
    provider LowCardinality(String),
    target_url Nullable(String),
    country_code Nullable(String),
    properties Map(LowCardinality(String), String),
    scores Map(LowCardinality(String), Int64),
    request_body String DEFAULT '',
    response_body String DEFAULT '',
    cost UInt64 DEFAULT 0,
    assets Array(String),
    updated_at DateTime64(3, 'UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(updated_at)
PARTITION BY toYYYYMM(request_created_at)
ORDER BY (organization_id, provider, model, user_id, request_created_at, request_id)
"""
T0 = "2026-09-01 10:00:00"


SPAN_INSERT = (
    "INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ServiceName, SpanName, SpanAttributes, Duration,"
    " StatusCode, ResourceAttributes) VALUES (addNanoseconds(toDateTime64({t0:String}, 9, 'UTC'), {start:Int64}),"
    " {trace:String}, {span:String}, 'chat', 'llm', mapFromArrays({keys:Array(String)}, {values:Array(String)}),"
    " {duration:UInt64}, {status:String}, map('service.name', 'chat'))"
)


def _spans(store: Store, rows: list[tuple[str, str, float, float, str, dict[str, str]]]) -> None:
    """rows: (trace, span, start s after T0, duration s, status code, attributes)."""
    for trace, span, start, duration, status, attrs in rows:
        times = {"t0": T0, "start": int(start * 1e9), "duration": int(duration * 1e9)}
        names = {"trace": trace, "span": span, "status": status, "keys": list(attrs), "values": list(attrs.values())}
        store.command(SPAN_INSERT, {**times, **names})


@pytest.fixture
def traced(store: Store) -> Store:
    migrate(store)
    store.command(OTEL_TRACES)
    return store


def test_otel_traces_are_read_whole_and_incrementally(traced: Store) -> None:
    cheap = {"gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": "100", "error.type": "timeout"}
    strong = {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": "100",
              "gen_ai.usage.output_tokens": "40", "gen_ai.usage.cost": "0.003", "user.id": "u1"}  # fmt: skip
    _spans(traced, [
        ("a1", "s1", 0, 0.5, "Error", cheap),
        ("a1", "s2", 0.6, 1.0, "Ok", strong),
        ("b1", "s3", 5, 0.2, "Unset", {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.cost": "0.001"}),
        ("n1", "s4", 6, 0.2, "Unset", {"http.route": "/health"}),  # not a GenAI span: ignored
    ])  # fmt: skip
    first = ingest(traced, ["clickhouse-table:otel_traces"])
    assert (first.total("read"), first.total("loaded")) == (2, 2)
    a = traced.query_df("SELECT * FROM requests FINAL WHERE request_id = 'a1'").iloc[0]
    assert (a.route, a.final_route, a.escalated, a.escalation_reason, a.user_id) == (
        "cheap", "frontier", True, "timeout", "u1",
    )  # fmt: skip
    assert a.latency_ms == pytest.approx(1600) and float(a.cost_usd) == pytest.approx(0.003 + 100 * 0.15 / 1e6)

    again = ingest(traced, ["clickhouse-table:otel_traces"])  # nothing new: the last trace again, a duplicate
    assert (again.total("loaded"), again.total("updated")) == (0, 0)

    # trace a1 grows after the watermark: it is read whole again and replaces itself; c1 is new
    _spans(traced, [
        ("a1", "s5", 7, 0.1, "Ok", {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.cost": "0.002"}),
        ("c1", "s6", 8, 0.1, "Ok", {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.cost": "0.004"}),
    ])  # fmt: skip
    third = ingest(traced, ["clickhouse-table:otel_traces"])
    assert (third.total("loaded"), third.total("updated")) == (2, 1)
    live = traced.query_df("SELECT request_id, attempts, toFloat64(cost_usd) AS cost FROM requests FINAL ORDER BY 1")
    assert live["request_id"].tolist() == ["a1", "b1", "c1"]
    assert live["attempts"].tolist() == [3, 1, 1]
    assert live["cost"].sum() == pytest.approx(0.003 + 0.000015 + 0.002 + 0.001 + 0.004)


def test_otel_traces_are_paged_in_bounded_chunks(traced: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest import remote

    monkeypatch.setattr(remote, "PAGE_ROWS", 7)
    priced = {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.cost": "0.001"}
    _spans(traced, [(f"{i % 10:032x}", f"{i:016x}", i, 0.1, "Ok", priced) for i in range(45)])
    report = ingest(traced, ["clickhouse-table:otel_traces"])
    assert (report.total("read"), report.total("loaded")) == (10, 10)
    attempts = traced.query_rows("SELECT sum(attempts), sum(cost_usd) FROM requests FINAL")[0]
    assert int(attempts[0]) == 45 and float(attempts[1]) == pytest.approx(0.045)


def test_helicone_request_response_rmt_is_read_with_cost_in_nano_dollars(store: Store) -> None:
    migrate(store)
    store.command(REQUEST_RESPONSE_RMT)
    insert = (
        "INSERT INTO request_response_rmt (request_id, request_created_at, latency, status, prompt_tokens,"
        " completion_tokens, model, user_id, organization_id, time_to_first_token, provider, properties, cost)"
        " VALUES (generateUUIDv4(), toDateTime64({t:String}, 3, 'UTC'), 1200, {status:Int64}, 100, 50,"
        " {model:String}, {user:String}, generateUUIDv4(), 300, 'OPENAI',"
        " mapFromArrays({keys:Array(String)}, {values:Array(String)}), {cost:UInt64})"
    )
    rows = [
        ("2026-09-01 10:00:00", 200, "gpt-4o-mini", "alice", {"language": "es", "plan": "pro"}, 45_000),
        ("2026-09-01 10:00:01", 429, "gpt-4o", "", {}, 0),
        ("2026-09-01 10:00:02", 200, "gpt-4o", "bob", {"Helicone-Session-Id": "s9"}, 750_000),
    ]
    for t, status, model, user, props, cost in rows:
        params = {"t": t, "status": status, "model": model, "user": user, "cost": cost}
        store.command(insert, {**params, "keys": list(props), "values": list(props.values())})
    report = ingest(store, ["clickhouse-table:request_response_rmt"])
    assert (report.total("read"), report.total("loaded")) == (3, 3)
    live = store.query_df(
        "SELECT user_id, session_id, language, segments, toFloat64(cost_usd) AS cost, status, error_type, latency_ms,"
        " ttft_ms, route FROM requests FINAL ORDER BY ts"
    )
    assert live["user_id"].tolist() == ["alice", "unknown", "bob"]
    assert live["cost"].tolist() == pytest.approx([45_000 / 1e9, 0, 750_000 / 1e9])
    assert live["status"].tolist() == ["ok", "error", "ok"] and live["error_type"][1] == "http_429"
    assert (live["language"][0], live["segments"][0]["plan"], live["session_id"][2]) == ("es", "pro", "s9")
    assert live["latency_ms"].tolist() == [1200] * 3 and live["ttft_ms"].tolist() == [300] * 3
    late = {"t": "2026-09-01 11:00:00", "status": 200, "model": "gpt-4o", "user": "carol", "cost": 1_000_000}
    store.command(insert, {**late, "keys": [], "values": []})
    second = ingest(store, ["clickhouse-table:request_response_rmt"])
    assert second.total("loaded") == 1


def test_a_table_of_another_store_and_bad_names(store: Store, tmp_path: Path) -> None:
    other = Store(f"chdb://{tmp_path / 'collector'}")
    other.command(OTEL_TRACES)
    _spans(other, [("ab", "01", 0, 0.1, "Ok", {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.cost": "0.01"})])
    report = ingest(store, [f"clickhouse-table:otel_traces@{other.dsn}"])
    assert (report.total("loaded"), report.files[0].file) == (1, f"clickhouse-table:otel_traces@{other.dsn}")
    assert store.query_rows("SELECT request_id FROM requests FINAL") == [("ab",)]
    with pytest.raises(InputError, match="no such table"):
        ingest(store, ["clickhouse-table:otel_traces"])
    with pytest.raises(InputError, match="not a plain table"):
        ingest(store, ["clickhouse-table:otel`; DROP TABLE requests"])
    with pytest.raises(InputError, match="neither otel_traces"):
        ingest(store, ["clickhouse-table:requests"])

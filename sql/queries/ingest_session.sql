-- name: ingest_session
-- params: none
-- returns: nothing; creates the session-local tables one ingest chunk works in (ingest_chunk_clear empties them). The
-- tables a chunk keeps while it waits for its turn to decide or write are compressed (LZ4): memory goes to the chunks
-- in flight.
CREATE TEMPORARY TABLE IF NOT EXISTS chunk_text (line String) ENGINE = Memory;
CREATE TEMPORARY TABLE IF NOT EXISTS chunk_lines (line_no UInt64, raw String) ENGINE = Memory SETTINGS compress = 1;
CREATE TEMPORARY TABLE IF NOT EXISTS chunk_typed
(
    line_no UInt64,
    request_id Nullable(String),
    ts Nullable(Int64),
    ts_given Nullable(String),
    user_id Nullable(String),
    account_id String,
    session_id String,
    language String,
    channel String,
    tier String,
    region String,
    segments Map(String, String),
    task_type String,
    router String,
    router_score Nullable(Float64),
    route Nullable(String),
    final_route Nullable(String),
    model Nullable(String),
    escalated Nullable(Bool),
    escalation_reason String,
    attempts Int64,
    retries Int64,
    input_tokens Int64,
    output_tokens Int64,
    cost_usd Nullable(Float64),
    router_cost_usd Float64,
    human_cost_usd Float64,
    cost_source String,
    latency_ms Nullable(Float64),
    ttft_ms Nullable(Float64),
    router_latency_ms Nullable(Float64),
    status String,
    error_type String,
    resolved Nullable(Bool),
    thumb Nullable(Int64),
    csat Nullable(Int64),
    shadow_route String,
    calls Array(Tuple(
        model String,
        route String,
        input_tokens Nullable(Float64),
        output_tokens Nullable(Float64),
        cost_usd Nullable(Float64),
        latency_ms Nullable(Float64),
        status String,
        error_type String
    )),
    row_hash UInt64,
    raw String,
    parsed Bool,
    reasons Array(String)
) ENGINE = Memory SETTINGS compress = 1;
CREATE TEMPORARY TABLE IF NOT EXISTS chunk_feedback
(
    line_no UInt64,
    request_id Nullable(String),
    ts Nullable(Int64),
    ts_given Nullable(String),
    kind Nullable(String),
    value Nullable(Float64),
    row_hash UInt64,
    raw String,
    parsed Bool,
    reasons Array(String)
) ENGINE = Memory;
CREATE TEMPORARY TABLE IF NOT EXISTS chunk_rejects (line_no UInt64, reasons Array(String)) ENGINE = Memory;
CREATE TEMPORARY TABLE IF NOT EXISTS chunk_rejected_lines (line_no UInt64, raw String) ENGINE = Memory;
CREATE TEMPORARY TABLE IF NOT EXISTS chunk_decided AS requests ENGINE = Memory SETTINGS compress = 1;

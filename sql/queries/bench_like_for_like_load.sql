-- name: bench_like_for_like_load
-- params: path String, batch_id String, source_file String, version UInt64
-- returns: nothing; the benchmark's like-for-like reference: the engine itself loads a canonical JSONL file (ISO 8601
-- timestamps) into requests, whose rollup views fire as they do for routewatch ingest. Its own JSON reader types each
-- field; the SELECT applies the contract's defaults and the mapping onto the columns, and nothing else: no
-- validation, no quarantine, no deduplication, no calls table. For a valid file its rows are routewatch ingest's
-- (tests/test_ingest_reference.py).
INSERT INTO requests
SELECT
    request_id, fromUnixTimestamp64Milli(ts, 'UTC'), user_id, account_id, session_id, language, channel, tier, region,
    segments, task_type, router, router_score, route, final_route, model,
    coalesce(escalated, final_route != route), escalation_reason, attempts, retries, input_tokens, output_tokens,
    -- money is read as decimals from the file's text; the hash above took them as Float64, as ingest_parse does
    cost_usd_decimal, router_cost_usd_decimal, human_cost_usd_decimal, cost_source, latency_ms, ttft_ms,
    router_latency_ms, status, error_type, resolved, thumb, csat,
    0,  -- tickets: no feedback events in this load
    shadow_route, row_hash, {batch_id:String}, {source_file:String}, source_line, now64(3, 'UTC'),
    {version:UInt64}, {version:UInt64}, toInt8(1)
FROM
(
    SELECT
        request_id,
        toUnixTimestamp64Milli(ts) AS ts,
        user_id,
        account_id,
        session_id,
        if(empty(language), 'unknown', normalizeUTF8NFC(language)) AS language,
        if(empty(channel), 'unknown', normalizeUTF8NFC(channel)) AS channel,
        normalizeUTF8NFC(tier) AS tier,
        normalizeUTF8NFC(region) AS region,
        mapApply((key, value) -> (normalizeUTF8NFC(key), normalizeUTF8NFC(value)), segments) AS segments,
        normalizeUTF8NFC(task_type) AS task_type,
        normalizeUTF8NFC(router) AS router,
        router_score,
        normalizeUTF8NFC(route) AS route,
        if(empty(final_route), route, normalizeUTF8NFC(final_route)) AS final_route,
        normalizeUTF8NFC(model) AS model,
        escalated,
        escalation_reason,
        coalesce(attempts, 1) AS attempts,
        retries,
        input_tokens,
        output_tokens,
        cost_usd_decimal,
        router_cost_usd_decimal,
        human_cost_usd_decimal,
        toFloat64(cost_usd) AS cost_usd,
        toFloat64(router_cost_usd) AS router_cost_usd,
        toFloat64(human_cost_usd) AS human_cost_usd,
        if(empty(cost_source), 'reported', cost_source) AS cost_source,
        latency_ms,
        ttft_ms,
        router_latency_ms,
        if(empty(status), 'ok', status) AS status,
        normalizeUTF8NFC(error_type) AS error_type,
        resolved,
        toInt64(thumb) AS thumb,
        toInt64(csat) AS csat,
        normalizeUTF8NFC(shadow_route) AS shadow_route,
        arrayMap(call -> tuple(coalesce(call.1, ''), coalesce(call.2, ''), call.3, call.4, call.5, call.6,
            if(empty(coalesce(call.7, '')), 'ok', call.7), coalesce(call.8, '')), calls) AS calls,
        {{> ingest_row_hash}}
        source_line
    FROM
    (
        -- the file's decimals under names of their own: the SELECT above names their Float64 values as ingest_parse does
        SELECT
            *,
            cost_usd AS cost_usd_decimal,
            router_cost_usd AS router_cost_usd_decimal,
            human_cost_usd AS human_cost_usd_decimal,
            _row_number + 1 AS source_line
        FROM file(
            {path:String},
            'JSONEachRow',
            'request_id String, ts DateTime64(3, \'UTC\'), user_id String, account_id String, session_id String,
            language String, channel String, tier String, region String, segments Map(String, String),
            task_type String, router String, router_score Nullable(Float64), route String, final_route String,
            model String, escalated Nullable(Bool), escalation_reason String, attempts Nullable(UInt16),
            retries UInt16, input_tokens UInt64, output_tokens UInt64, cost_usd Nullable(Decimal(18, 9)),
            router_cost_usd Decimal(18, 9), human_cost_usd Decimal(18, 9), cost_source String, latency_ms Float64,
            ttft_ms Nullable(Float64), router_latency_ms Nullable(Float64), status String, error_type String,
            resolved Nullable(Bool), thumb Nullable(Float64), csat Nullable(Float64), shadow_route String,
            calls Array(Tuple(model Nullable(String), route Nullable(String), input_tokens Nullable(Float64),
                output_tokens Nullable(Float64), cost_usd Nullable(Float64), latency_ms Nullable(Float64),
                status Nullable(String), error_type Nullable(String)))'
        )
    )
)
SETTINGS date_time_input_format = 'best_effort'

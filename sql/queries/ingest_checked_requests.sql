-- name: ingest_checked_requests
-- params: none (reads chunk_typed)
-- returns: in no particular order (reasons are keyed by line_no), line_no and the typed columns the request suite
-- checks (and ts_given, the timestamp's text, for its reason), for every row that is a JSON object
SELECT
    line_no, request_id, ts, ts_given, user_id, route, model, escalation_reason, attempts, retries, input_tokens,
    output_tokens,
    -- an unpriced request declares its cost unknown: the suite checks that it says so, not that it has one
    if(cost_source = 'unpriced', 0, cost_usd) AS cost_usd,
    router_cost_usd, human_cost_usd, cost_source, latency_ms, ttft_ms, router_latency_ms, status, thumb, csat
FROM chunk_typed
WHERE parsed

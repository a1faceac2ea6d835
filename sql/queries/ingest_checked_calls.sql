-- name: ingest_checked_calls
-- params: none (reads chunk_typed)
-- returns: in no particular order (reasons are keyed by line_no), line_no and the typed fields of every call, for
-- every row that is a JSON object
SELECT
    line_no,
    call.model AS model,
    call.route AS route,
    call.input_tokens AS input_tokens,
    call.output_tokens AS output_tokens,
    call.cost_usd AS cost_usd,
    call.latency_ms AS latency_ms,
    call.status AS status,
    call.error_type AS error_type
FROM chunk_typed
ARRAY JOIN calls AS call
WHERE parsed

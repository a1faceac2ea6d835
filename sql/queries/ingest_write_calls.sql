-- name: ingest_write_calls
-- params: none (reads chunk_decided)
-- returns: nothing; one row per call of every decided request version
INSERT INTO calls
SELECT
    request_id,
    version,
    toUInt16(call_number - 1),
    call.model,
    call.route,
    toUInt64(coalesce(call.input_tokens, 0)),
    toUInt64(coalesce(call.output_tokens, 0)),
    toDecimal64(toString(coalesce(call.cost_usd, 0)), 9),  -- via text, as in ingest_decide
    coalesce(call.latency_ms, 0),
    call.status,
    call.error_type
FROM chunk_decided
ARRAY JOIN calls AS call, arrayEnumerate(calls) AS call_number
WHERE sign = 1

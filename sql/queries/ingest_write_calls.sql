-- name: ingest_write_calls
-- params: none (reads chunk_decided and chunk_typed)
-- returns: nothing; one row per call of every request version the chunk decided to write
INSERT INTO calls
SELECT
    d.request_id,
    d.version,
    toUInt16(call_number - 1),
    call.model,
    call.route,
    toUInt64(coalesce(call.input_tokens, 0)),
    toUInt64(coalesce(call.output_tokens, 0)),
    if(isNull(call.cost_usd), NULL, toDecimal64(toString(assumeNotNull(call.cost_usd)), 9)),  -- as in ingest_decide
    coalesce(call.latency_ms, 0),
    call.status,
    call.error_type
FROM chunk_decided AS d
INNER JOIN chunk_typed AS t ON d.source_line = t.line_no
ARRAY JOIN t.calls AS call, arrayEnumerate(t.calls) AS call_number
WHERE d.sign = 1

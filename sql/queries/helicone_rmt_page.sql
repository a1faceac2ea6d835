-- name: helicone_rmt_page
-- params: since_ms Int64, after_ms Int64, after_id String, rows UInt32; the table slot holds an allow-listed, quoted
--   identifier and the cost slot one of two fixed expressions (`cost / 1e9`, or NULL for a table from before
--   Helicone added cost) (ingest/remote.py)
-- slots: table, cost
-- returns: one page of Helicone's request_response_rmt (the latest version of each row) at or after since_ms,
--   after the keyset (after_ms, after_id), renamed and scaled into the fields of Helicone's request export (cost
--   in USD, time in epoch seconds), plus created_ms for the keyset
SELECT
    request_key AS request_id,
    created_ms,
    created_ms / 1000 AS request_created_at,
    status AS response_status,
    user_id AS request_user_id,
    model,
    provider,
    prompt_tokens,
    completion_tokens,
    latency,
    time_to_first_token,
    properties AS request_properties,
    cost_usd AS cost
FROM
(
    SELECT
        *,
        toString(request_id) AS request_key,
        toUnixTimestamp64Milli(request_created_at) AS created_ms,
        {{cost}} AS cost_usd
    FROM {{table}} FINAL
    WHERE request_created_at >= fromUnixTimestamp64Milli({since_ms:Int64})
)
WHERE (created_ms, request_key) > ({after_ms:Int64}, {after_id:String})
ORDER BY created_ms, request_key
LIMIT {rows:UInt32}

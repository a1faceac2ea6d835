-- name: ingest_decide
-- params: version UInt64, batch_id String, source_file String
-- returns: nothing; writes into chunk_decided the rows this chunk adds to requests: a +1 row for every new or
-- changed request (the last line of a request_id wins inside the chunk), with the newest feedback already loaded
-- for it applied, and a -1 copy of the version it replaces.
-- Everything is read as of `version` (rows written before this chunk), so deciding the chunk again after a crash
-- gives exactly the same rows.
INSERT INTO chunk_decided
WITH
    candidates AS
    (
        SELECT *
        FROM chunk_typed
        WHERE empty(reasons) AND line_no NOT IN (SELECT line_no FROM chunk_rejects)
        ORDER BY line_no DESC
        LIMIT 1 BY request_id
    ),
    known AS
    (
        SELECT request_id, argMax(row_hash, version) AS known_hash, max(version) AS known_version
        FROM request_keys
        WHERE request_id IN (SELECT request_id FROM candidates) AND version < {version:UInt64}
        GROUP BY request_id
    ),
    replaced AS
    (
        SELECT c.request_id AS request_id, k.known_version AS version
        FROM candidates AS c
        INNER JOIN known AS k ON c.request_id = k.request_id
        WHERE c.row_hash != k.known_hash
    ),
    rated AS
    (
        SELECT *
        FROM feedback_newest(version = {version:UInt64})
        WHERE request_id IN (SELECT request_id FROM candidates)
    )
SELECT
    assumeNotNull(c.request_id),
    fromUnixTimestamp64Milli(assumeNotNull(c.ts), 'UTC'),
    assumeNotNull(c.user_id),
    c.account_id,
    c.session_id,
    c.language,
    c.channel,
    c.tier,
    c.region,
    c.segments,
    c.task_type,
    c.router,
    c.router_score,
    assumeNotNull(c.route),
    coalesce(c.final_route, c.route),
    assumeNotNull(c.model),
    coalesce(c.escalated, coalesce(c.final_route, c.route) != c.route),
    c.escalation_reason,
    toUInt16(c.attempts),
    toUInt16(c.retries),
    toUInt64(c.input_tokens),
    toUInt64(c.output_tokens),
    -- money goes through its shortest decimal text: toDecimal64 of a Float64 would truncate 0.000131 to 0.000130999
    if(isNull(c.cost_usd), NULL, toDecimal64(toString(assumeNotNull(c.cost_usd)), 9)),  -- NULL: unpriced
    toDecimal64(toString(c.router_cost_usd), 9),
    toDecimal64(toString(c.human_cost_usd), 9),
    c.cost_source,
    assumeNotNull(c.latency_ms),
    c.ttft_ms,
    c.router_latency_ms,
    c.status,
    c.error_type,
    coalesce(f.resolved, c.resolved),
    coalesce(f.thumb, toInt8(c.thumb)),
    coalesce(f.csat, toUInt8(c.csat)),
    f.tickets,
    c.shadow_route,
    c.row_hash,
    {batch_id:String},
    {source_file:String},
    c.line_no,
    now64(3, 'UTC'),
    {version:UInt64},
    {version:UInt64},
    toInt8(1)
FROM candidates AS c
LEFT JOIN known AS k ON c.request_id = k.request_id
LEFT JOIN rated AS f ON c.request_id = f.request_id
WHERE k.known_hash != c.row_hash
UNION ALL
-- qualified names: the REPLACE aliases below would otherwise shadow these columns in WHERE
SELECT * REPLACE ({version:UInt64} AS written_version, toInt8(-1) AS sign)
FROM requests AS r
WHERE r.sign = 1 AND r.written_version < {version:UInt64}
    AND (r.request_id, r.version) IN (SELECT request_id, version FROM replaced)

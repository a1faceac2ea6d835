-- name: ingest_feedback_decide
-- params: version UInt64, batch_id String, source_file String
-- returns: nothing; new or changed feedback events (as of `version`) into feedback
INSERT INTO feedback
WITH
    candidates AS
    (
        SELECT *
        FROM chunk_feedback
        WHERE empty(reasons) AND line_no NOT IN (SELECT line_no FROM chunk_rejects)
        ORDER BY line_no DESC
        LIMIT 1 BY request_id, kind, ts
    ),
    known AS
    (
        SELECT request_id, kind, ts, argMax(row_hash, version) AS known_hash
        FROM feedback
        WHERE request_id IN (SELECT request_id FROM candidates) AND version < {version:UInt64}
        GROUP BY request_id, kind, ts
    )
SELECT
    assumeNotNull(c.request_id),
    fromUnixTimestamp64Milli(assumeNotNull(c.ts), 'UTC') AS event_ts,
    assumeNotNull(c.kind),
    assumeNotNull(c.value),
    c.row_hash,
    {batch_id:String},
    {source_file:String},
    c.line_no,
    {version:UInt64}
FROM candidates AS c
LEFT JOIN known AS k ON c.request_id = k.request_id AND c.kind = k.kind AND event_ts = k.ts
WHERE k.known_hash != c.row_hash

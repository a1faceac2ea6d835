-- name: ingest_chunk_counts
-- params: none (reads the session tables of the chunk)
-- returns: read, quarantined, good, distinct_versions, distinct_ids, inserted, cancelled (UInt64 each)
SELECT
    (SELECT count() FROM chunk_typed) AS read,
    (SELECT count() FROM chunk_typed WHERE notEmpty(reasons) OR line_no IN (SELECT line_no FROM chunk_rejects)) AS quarantined,
    read - quarantined AS good,
    (SELECT uniqExact(request_id, row_hash) FROM chunk_typed
        WHERE empty(reasons) AND line_no NOT IN (SELECT line_no FROM chunk_rejects)) AS distinct_versions,
    (SELECT uniqExact(request_id) FROM chunk_typed
        WHERE empty(reasons) AND line_no NOT IN (SELECT line_no FROM chunk_rejects)) AS distinct_ids,
    (SELECT countIf(sign = 1) FROM chunk_decided) AS inserted,
    (SELECT countIf(sign = -1) FROM chunk_decided) AS cancelled

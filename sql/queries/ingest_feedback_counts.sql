-- name: ingest_feedback_counts
-- params: version UInt64
-- returns: read, quarantined, good, distinct_versions, distinct_ids, inserted, cancelled (UInt64 each)
SELECT
    (SELECT count() FROM chunk_feedback) AS read,
    (SELECT count() FROM chunk_feedback WHERE notEmpty(reasons) OR line_no IN (SELECT line_no FROM chunk_rejects)) AS quarantined,
    read - quarantined AS good,
    (SELECT uniqExact(request_id, kind, ts, row_hash) FROM chunk_feedback
        WHERE empty(reasons) AND line_no NOT IN (SELECT line_no FROM chunk_rejects)) AS distinct_versions,
    (SELECT uniqExact(request_id, kind, ts) FROM chunk_feedback
        WHERE empty(reasons) AND line_no NOT IN (SELECT line_no FROM chunk_rejects)) AS distinct_ids,
    (SELECT count() FROM feedback WHERE version = {version:UInt64}) AS inserted,
    toUInt64(0) AS cancelled

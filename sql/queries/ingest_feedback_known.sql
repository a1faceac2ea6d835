-- name: ingest_feedback_known
-- params: none (reads the ids in ingest_probe)
-- returns: request_id String, kind String, ts DateTime64(3), known_hash UInt64
SELECT request_id, kind, ts, argMax(row_hash, version) AS known_hash
FROM feedback
WHERE request_id IN ingest_probe
GROUP BY request_id, kind, ts

-- name: ingest_known_keys
-- params: none (reads the ids in ingest_probe)
-- returns: request_id String, known_hash UInt64, known_version UInt64, known_ts DateTime64(3) (live version of each id)
SELECT
    request_id,
    argMax(row_hash, version) AS known_hash,
    max(version) AS known_version,
    argMax(ts, version) AS known_ts
FROM request_keys
WHERE request_id IN ingest_probe
GROUP BY request_id

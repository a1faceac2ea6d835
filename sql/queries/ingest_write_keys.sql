-- name: ingest_write_keys
-- params: none (reads chunk_decided)
-- returns: nothing; the new live version of every decided request into request_keys
INSERT INTO request_keys
SELECT request_id, ts, row_hash, version
FROM chunk_decided
WHERE sign = 1

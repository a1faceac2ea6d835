-- name: ingest_write_requests
-- params: none (reads chunk_decided)
-- returns: nothing; the decided rows into requests (the rollup views fire here)
INSERT INTO requests
SELECT *
FROM chunk_decided

-- name: ingest_probe_create
-- params: none
-- returns: nothing; a session-local table holding the request ids of the chunk being loaded
CREATE TEMPORARY TABLE IF NOT EXISTS ingest_probe (request_id String) ENGINE = Memory

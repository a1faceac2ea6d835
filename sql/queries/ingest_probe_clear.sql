-- name: ingest_probe_clear
-- params: none
-- returns: nothing
TRUNCATE TABLE ingest_probe

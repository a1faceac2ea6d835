-- name: health_freshness
-- params: none
-- returns: newest_request DateTime64 (the newest ts), last_ingest DateTime64 (the newest ingested_at), requests
-- UInt64 (live), feedback_events UInt64
SELECT
    (SELECT max(ts) FROM requests) AS newest_request,
    (SELECT max(ingested_at) FROM requests) AS last_ingest,
    (SELECT count() FROM requests FINAL) AS requests,
    (SELECT count() FROM feedback FINAL) AS feedback_events

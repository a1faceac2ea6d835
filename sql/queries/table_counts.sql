-- name: table_counts
-- params: none
-- returns: live_requests UInt64, feedback_events UInt64, quarantined UInt64, batches UInt64
SELECT
    (SELECT count() FROM requests FINAL) AS live_requests,
    (SELECT count() FROM feedback FINAL) AS feedback_events,
    (SELECT count() FROM quarantine FINAL) AS quarantined,
    (SELECT count() FROM ingest_batches FINAL) AS batches

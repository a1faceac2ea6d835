-- name: ingest_checked_feedback
-- params: none (reads chunk_feedback)
-- returns: in no particular order (reasons are keyed by line_no), line_no, request_id, ts, ts_given (its text), kind, value for
-- feedback rows that parsed and typed cleanly
SELECT line_no, request_id, ts, ts_given, kind, value
FROM chunk_feedback
WHERE parsed

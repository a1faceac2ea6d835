-- name: decisions_latest
-- params: none
-- returns: every column of gap_decisions for its most recent window
SELECT *
FROM gap_decisions FINAL
WHERE window_start = (SELECT max(window_start) FROM gap_decisions)
ORDER BY dimension, segment, metric

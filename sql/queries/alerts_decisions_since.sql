-- name: alerts_decisions_since
-- params: since Date (windows after it)
-- returns: every column of gap_decisions for each decided window after since, oldest window first
SELECT *
FROM gap_decisions FINAL
WHERE window_start > {since:Date}
ORDER BY window_start, dimension, segment, metric

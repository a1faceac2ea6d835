-- name: decisions_history
-- params: statuses Array(String)
-- returns: every column of gap_decisions for decisions whose status is one of statuses, newest window first
SELECT *
FROM gap_decisions FINAL
WHERE status IN {statuses:Array(String)}
ORDER BY window_start DESC, dimension, segment, metric

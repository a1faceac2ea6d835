-- name: decisions_stepped
-- params: since Date, until Date (exclusive)
-- returns: dimension, segment, metric of every contrast whose CUSUM stepped on a decided day of [since, until):
-- the day passed the gates and gave a task-adjusted gap with a standard error
SELECT DISTINCT dimension, segment, metric
FROM gap_decisions FINAL
WHERE window_start >= {since:Date} AND window_start < {until:Date}
    AND isFinite(adjusted_gap) AND adjusted_se > 0

-- name: decisions_previous
-- params: before Date
-- returns: dimension, segment, metric, cusum_up, cusum_down: the CUSUM state of each contrast after its last
-- decided window before `before`
SELECT dimension, segment, metric, argMax(cusum_up, window_start) AS cusum_up, argMax(cusum_down, window_start) AS cusum_down
FROM gap_decisions FINAL
WHERE window_start < {before:Date}
GROUP BY dimension, segment, metric

-- name: decisions_window
-- params: day Date (a decided window: for a Sunday, the weekly audit of its ISO week)
-- returns: every column of gap_decisions for that window (empty when it is not decided yet)
SELECT *
FROM gap_decisions FINAL
WHERE window_start = {day:Date}
ORDER BY dimension, segment, metric

-- name: decisions_latest
-- params: weekday UInt8 (7: the most recent Sunday, whose verdicts are the weekly audit; 0: any day)
-- returns: every column of gap_decisions for its most recent window of that kind
SELECT *
FROM gap_decisions FINAL
WHERE window_start = (
    SELECT max(window_start) FROM gap_decisions WHERE {weekday:UInt8} = 0 OR toDayOfWeek(window_start) = {weekday:UInt8}
)
ORDER BY dimension, segment, metric

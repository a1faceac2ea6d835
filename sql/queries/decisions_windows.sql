-- name: decisions_windows
-- params: until DateTime64(3) (windows must end before it)
-- returns: day Date, every closed UTC day that has requests, with decided UInt8 (1 when gap_decisions has it)
SELECT
    toDate(ts) AS day,
    day IN (SELECT DISTINCT window_start FROM gap_decisions) AS decided
FROM requests_live
WHERE ts < {until:DateTime64(3)}
GROUP BY day
ORDER BY day

-- name: alerts_decided_windows
-- params: none
-- returns: window_start, decided_at: each decided window and when its newest verdict was stored (a window judged
-- again with `decide --redo-from` has a newer decided_at than the alert run that evaluated it)
SELECT window_start, max(decided_at) AS decided_at
FROM gap_decisions FINAL
GROUP BY window_start
ORDER BY window_start

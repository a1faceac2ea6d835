-- name: overview_daily
-- params: since_day Date32, until_day Date32 (exclusive), cheap_route String, plus the filters slot (rollup
-- dimensions)
-- returns: day Date, requests Int64, escalated Int64, errors Int64, cheap Int64, latency_hist Map(UInt16, Int64)
-- (bins of round(40 * log1p(latency_ms)), see metrics.latency), all from rollup_daily
SELECT
    day,
    sum(requests) AS requests,
    sumIf(requests, escalated) AS escalated,
    sumIf(requests, status = 'error') AS errors,
    sumIf(requests, final_route = {cheap_route:String}) AS cheap,
    sumMap(latency_hist) AS latency_hist
FROM rollup_daily
WHERE day >= {since_day:Date32} AND day < {until_day:Date32}
    {{filters}}
GROUP BY day
HAVING sum(requests) > 0
ORDER BY day

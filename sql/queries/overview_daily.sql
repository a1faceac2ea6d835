-- name: overview_daily
-- params: since_day Date32, until_day Date32 (exclusive), cheap_route String, plus the filters slot (rollup
-- dimensions)
-- slots: filters
-- returns: day Date, requests Int64, escalated Int64, errors Int64, cheap Int64, spend Float64 (model spend),
-- all_in Float64 (model + router + human), over priced requests, priced Int64 and priced_resolved Int64 (their
-- denominators), resolved Int64, known Int64, thumbs_up Int64, rated Int64 (late
-- feedback included), latency_hist Map(UInt16, Int64) (bins of round(40 * log1p(latency_ms)), see
-- metrics.latency), all from rollup_daily
SELECT
    day,
    sum(requests) AS requests,
    sumIf(requests, escalated) AS escalated,
    sumIf(requests, status = 'error') AS errors,
    sumIf(requests, final_route = {cheap_route:String}) AS cheap,
    toFloat64(sum(cost_total)) AS spend,
    toFloat64(sum(cost_total + router_cost_total + human_cost_total)) AS all_in,
    sum(priced) AS priced,  -- the requests spend and all_in cover (an unpriced one has no cost)
    sum(priced_resolved) AS priced_resolved,
    sum(resolved_n) AS resolved,
    sum(resolved_known) AS known,
    sum(rollup_daily.thumbs_up) AS thumbs_up,
    sum(thumbs_rated) AS rated,
    sumMap(latency_hist) AS latency_hist
FROM rollup_daily
WHERE day >= {since_day:Date32} AND day < {until_day:Date32}
    {{filters}}
GROUP BY day
HAVING sum(requests) > 0
ORDER BY day

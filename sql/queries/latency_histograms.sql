-- name: latency_histograms
-- params: since_day Date32, until_day Date32 (exclusive), plus the dims, filters and group_by slots (rollup
-- dimensions and buckets)
-- returns: one column per dimension, requests Int64, latency_hist Map(UInt16, Int64) (bins of
-- round(40 * log1p(latency_ms)), see metrics.latency), from rollup_daily
SELECT
    {{dims}}
    sum(requests) AS requests,
    sumMap(latency_hist) AS latency_hist
FROM rollup_daily
WHERE day >= {since_day:Date32} AND day < {until_day:Date32}
    {{filters}}
{{group_by}}
HAVING sum(requests) > 0

-- name: latency_histograms
-- params: since_day Date32, until_day Date32 (exclusive), plus the dims, filters and group_by slots (rollup
-- dimensions and buckets) and the histogram slot (a histogram column of metrics.latency.MEASURES)
-- slots: dims, filters, group_by, histogram
-- returns: one column per dimension, requests Int64, latency_hist Map(UInt16, Int64) (bins of
-- round(40 * log1p(ms)) of the chosen measure, see metrics.latency), router_cost_usd Decimal (over priced
-- requests), from rollup_daily
SELECT
    {{dims}}
    sum(requests) AS requests,
    sumMap({{histogram}}) AS latency_hist,
    sum(router_cost_total) AS router_cost_usd
FROM rollup_daily
WHERE day >= {since_day:Date32} AND day < {until_day:Date32}
    {{filters}}
{{group_by}}
HAVING sum(requests) > 0

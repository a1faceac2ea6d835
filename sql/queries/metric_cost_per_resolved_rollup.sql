-- name: metric_cost_per_resolved_rollup
-- params: since_day Date32, until_day Date32 (exclusive), plus the dims, filters and group_by slots (rollup dimensions)
-- slots: dims, filters, group_by
-- returns: the columns of metric_cost_per_resolved, from rollup_daily (exact, late feedback included)
SELECT
    {{dims}}
    sum(requests) AS requests,
    -- the rollup's cost sums cover priced requests only (sql/schema/011_unpriced_requests.sql)
    if(sum(priced) = 0, NULL, sum(cost_total + router_cost_total + human_cost_total)) AS cost_usd,
    if(sum(priced) = 0, NULL, sum(cost_total)) AS model_cost_usd,
    sum(resolved_n) AS resolved,
    sum(priced) AS priced,
    sum(priced_resolved) AS priced_resolved,
    sum(requests) - sum(priced) AS unpriced,
    if(sum(priced_resolved) = 0, NULL, toFloat64(cost_usd) / sum(priced_resolved)) AS cost_per_resolved,
    if(sum(priced) = 0, NULL, toFloat64(model_cost_usd) / sum(priced)) AS cost_per_request,
    if(sum(priced) = 0, NULL, toFloat64(cost_usd) / sum(priced)) AS all_in_cost_per_request
FROM rollup_daily
WHERE day >= {since_day:Date32} AND day < {until_day:Date32}
    {{filters}}
{{group_by}}
HAVING sum(requests) > 0

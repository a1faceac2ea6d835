-- name: metric_cost_per_resolved
-- params: since DateTime64(3), until DateTime64(3), plus the dims, filters and group_by slots of metrics.dimensions
-- slots: dims, filters, group_by
-- returns: one column per dimension, requests UInt64, cost_usd Decimal (all-in: model + router + human, over
-- every request, failed and unresolved included), model_cost_usd Decimal (model spend only), resolved UInt64,
-- cost_per_resolved Float64 (cost_usd / resolved; NULL when nothing was resolved), cost_per_request Float64
-- (model_cost_usd / requests: the naive figure), all_in_cost_per_request Float64 (cost_usd / requests)
SELECT
    {{dims}}
    count() AS requests,
    sum(cost_usd + router_cost_usd + human_cost_usd) AS cost_usd,
    sum(cost_usd) AS model_cost_usd,
    countIf(resolved) AS resolved,
    if(countIf(resolved) = 0, NULL, toFloat64(sum(cost_usd + router_cost_usd + human_cost_usd)) / countIf(resolved))
        AS cost_per_resolved,
    toFloat64(sum(cost_usd)) / count() AS cost_per_request,
    toFloat64(sum(cost_usd + router_cost_usd + human_cost_usd)) / count() AS all_in_cost_per_request
FROM requests_live
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    {{filters}}
{{group_by}}

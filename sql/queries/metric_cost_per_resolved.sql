-- name: metric_cost_per_resolved
-- params: since DateTime64(3), until DateTime64(3), plus the dims, filters and group_by slots of metrics.dimensions
-- slots: dims, filters, group_by
-- returns: one column per dimension, requests UInt64, cost_usd Decimal (all-in: model + router + human, over
-- every priced request, failed and unresolved included), model_cost_usd Decimal (model spend only), resolved UInt64,
-- priced UInt64 (requests whose cost is known), priced_resolved UInt64 (resolved among them), unpriced UInt64,
-- cost_per_resolved Float64 (cost_usd / priced_resolved; NULL when none), cost_per_request Float64
-- (model_cost_usd / priced: the naive figure), all_in_cost_per_request Float64 (cost_usd / priced). An unpriced
-- request (cost_usd NULL) is in requests and resolved, and in no cost numerator or denominator.
SELECT
    {{dims}}
    count() AS requests,
    sum(cost_usd + router_cost_usd + human_cost_usd) AS cost_usd,  -- NULL for an unpriced request: skipped
    sum(cost_usd) AS model_cost_usd,
    countIf(resolved) AS resolved,
    countIf(isNotNull(cost_usd)) AS priced,
    countIf(resolved AND isNotNull(cost_usd)) AS priced_resolved,
    countIf(isNull(cost_usd)) AS unpriced,
    -- the column cost_usd, not the alias, is what cost_usd names below: the all-in sum is written out again
    if(priced_resolved = 0, NULL, toFloat64(sum(cost_usd + router_cost_usd + human_cost_usd)) / priced_resolved)
        AS cost_per_resolved,
    if(priced = 0, NULL, toFloat64(model_cost_usd) / priced) AS cost_per_request,
    if(priced = 0, NULL, toFloat64(sum(cost_usd + router_cost_usd + human_cost_usd)) / priced)
        AS all_in_cost_per_request
FROM requests_live
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    {{filters}}
{{group_by}}

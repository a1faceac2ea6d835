-- name: cost_by_final_route
-- params: since_day Date32, until_day Date32 (exclusive), plus the dims, filters and group_by slots (rollup
-- dimensions); the dims must include final_route and escalated
-- slots: dims, filters, group_by
-- returns: one column per dimension, requests Int64, priced Int64, spend Decimal (model spend of the priced
-- requests), from rollup_daily
SELECT
    {{dims}}
    sum(requests) AS requests,
    sum(priced) AS priced,  -- the requests spend covers (an unpriced one has no cost)
    sum(cost_total) AS spend
FROM rollup_daily
WHERE day >= {since_day:Date32} AND day < {until_day:Date32}
    {{filters}}
{{group_by}}
HAVING sum(requests) > 0

-- name: metric_shadow_divergence_rollup
-- params: since_day Date32, until_day Date32 (exclusive), plus the dims, filters and group_by slots (rollup dimensions)
-- slots: dims, filters, group_by
-- returns: the columns of metric_shadow_divergence, from rollup_daily (exact: the rollup keeps the shadow route)
WITH prices AS
(
    -- the mean price to 18 decimal places: a nano-dollar rounding of it would add up over many requests
    SELECT route AS priced_route, toDecimal128(sum(cost_total), 18) / sum(priced) AS price, true AS priced
    FROM rollup_daily
    WHERE day >= {since_day:Date32} AND day < {until_day:Date32}
    GROUP BY route
    HAVING sum(priced) > 0
)
SELECT
    {{dims}}
    sum(requests) AS requests,
    sumIf(requests, shadow_route != '') AS compared,
    sumIf(requests, shadow_route != '' AND shadow_route != route) AS diverged,
    if(compared = 0, NULL, diverged / compared) AS shadow_divergence,
    -- a cell's cost_total covers its priced requests: those are the ones priced on the shadow route too
    sumIf(if(shadow.priced, requests - priced, requests), shadow_route != '' AND shadow_route != route) AS unpriced,
    if(compared = 0 OR (diverged = unpriced AND unpriced > 0), NULL,
        sumIf(priced * shadow.price - cost_total, shadow_route != '' AND shadow_route != route AND shadow.priced))
        AS shadow_cost_delta_usd
FROM rollup_daily
LEFT JOIN prices AS shadow ON shadow_route = shadow.priced_route
WHERE day >= {since_day:Date32} AND day < {until_day:Date32}
    {{filters}}
{{group_by}}
HAVING sum(requests) > 0

-- name: metric_shadow_divergence
-- params: since DateTime64(3), until DateTime64(3), plus the dims, filters and group_by slots of metrics.dimensions
-- slots: dims, filters, group_by
-- returns: one column per dimension, requests UInt64, compared UInt64 (with a shadow route), diverged UInt64,
-- shadow_divergence Float64 (NULL when nothing was compared), shadow_cost_delta_usd Decimal: what the diverged
-- requests would have cost on the shadow route (its mean model spend per request in the window) minus what
-- they did cost, over the diverged requests whose shadow route has a price (NULL when nothing was compared or
-- no diverged request has a price), unpriced
-- UInt64: diverged requests left out of the delta, because their shadow route served no priced request in the
-- window (so has no price) or their own cost is not known (an unpriced request)
WITH prices AS
(
    -- the mean price to 18 decimal places: a nano-dollar rounding of it would add up over many requests
    -- over the route's priced requests: an unpriced one is no $0 in the mean
    SELECT
        route AS priced_route,
        toDecimal128(sumIf(assumeNotNull(cost_usd), isNotNull(cost_usd)), 18) / countIf(isNotNull(cost_usd)) AS price,
        true AS priced
    FROM requests_live
    WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    GROUP BY route
    HAVING countIf(isNotNull(cost_usd)) > 0
)
SELECT
    {{dims}}
    count() AS requests,
    countIf(shadow_route != '') AS compared,
    countIf(shadow_route != '' AND shadow_route != route) AS diverged,
    if(compared = 0, NULL, diverged / compared) AS shadow_divergence,
    countIf(shadow_route != '' AND shadow_route != route AND (NOT shadow.priced OR isNull(cost_usd))) AS unpriced,
    if(compared = 0 OR (diverged = unpriced AND unpriced > 0), NULL,
        sumIf(shadow.price - assumeNotNull(cost_usd),
            shadow_route != '' AND shadow_route != route AND shadow.priced AND isNotNull(cost_usd)))
        AS shadow_cost_delta_usd
FROM requests_live
LEFT JOIN prices AS shadow ON shadow_route = shadow.priced_route
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    {{filters}}
{{group_by}}

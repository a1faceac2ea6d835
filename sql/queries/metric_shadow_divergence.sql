-- name: metric_shadow_divergence
-- params: since DateTime64(3), until DateTime64(3), plus the dims, filters and group_by slots of metrics.dimensions
-- slots: dims, filters, group_by
-- returns: one column per dimension, requests UInt64, compared UInt64 (with a shadow route), diverged UInt64,
-- shadow_divergence Float64 (NULL when nothing was compared), shadow_cost_delta_usd Decimal: what the diverged
-- requests would have cost on the shadow route (its mean model spend per request in the window) minus what
-- they did cost, over the diverged requests whose shadow route has a price (NULL when none has), unpriced
-- UInt64: diverged requests whose shadow route served nothing in the window, so has no price (left out)
WITH prices AS
(
    -- the mean price to 18 decimal places: a nano-dollar rounding of it would add up over many requests
    SELECT route AS priced_route, toDecimal128(sum(cost_usd), 18) / count() AS price, true AS priced
    FROM requests_live
    WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    GROUP BY route
)
SELECT
    {{dims}}
    count() AS requests,
    countIf(shadow_route != '') AS compared,
    countIf(shadow_route != '' AND shadow_route != route) AS diverged,
    if(compared = 0, NULL, diverged / compared) AS shadow_divergence,
    countIf(shadow_route != '' AND shadow_route != route AND NOT shadow.priced) AS unpriced,
    if(diverged = unpriced AND unpriced > 0, NULL,
        sumIf(shadow.price - cost_usd, shadow_route != '' AND shadow_route != route AND shadow.priced))
        AS shadow_cost_delta_usd
FROM requests_live
LEFT JOIN prices AS shadow ON shadow_route = shadow.priced_route
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    {{filters}}
{{group_by}}

-- name: metric_shadow_divergence
-- params: since DateTime64(3), until DateTime64(3), plus the dims, filters and group_by slots of metrics.dimensions
-- returns: one column per dimension, requests UInt64, compared UInt64 (with a shadow route), diverged UInt64,
-- shadow_divergence Float64 (NULL when nothing was compared), shadow_cost_delta_usd Float64: what the diverged
-- requests would have cost on the shadow route (its mean model spend per request in the window) minus what
-- they did cost
WITH prices AS
(
    SELECT route AS priced_route, avg(toFloat64(cost_usd)) AS price
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
    sumIf(shadow.price - toFloat64(cost_usd), shadow_route != '' AND shadow_route != route) AS shadow_cost_delta_usd
FROM requests_live
LEFT JOIN prices AS shadow ON shadow_route = shadow.priced_route
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    {{filters}}
{{group_by}}

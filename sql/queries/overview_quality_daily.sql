-- name: overview_quality_daily
-- params: since DateTime64(3), until DateTime64(3), plus the filters slot of metrics.dimensions
-- returns: day Date, requests UInt64, spend Float64 (model spend), all_in Float64 (model + router + human),
-- resolved UInt64, known UInt64, thumbs_up UInt64, rated UInt64; late feedback applied (requests_live)
SELECT
    toDate(ts) AS day,
    count() AS requests,
    sum(toFloat64(cost_usd)) AS spend,
    sum(toFloat64(cost_usd + router_cost_usd + human_cost_usd)) AS all_in,
    countIf(resolved) AS resolved,
    countIf(isNotNull(resolved)) AS known,
    countIf(thumb = 1) AS thumbs_up,
    countIf(isNotNull(thumb)) AS rated
FROM requests_live
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    {{filters}}
GROUP BY day
ORDER BY day

-- name: metric_volume
-- params: since DateTime64(3), until DateTime64(3), plus the dims, filters and group_by slots of metrics.dimensions
-- returns: one column per dimension, requests UInt64, users UInt64, cost_usd Decimal (model spend)
SELECT
    {{dims}}
    count() AS requests,
    uniqExact(user_id) AS users,
    sum(cost_usd) AS cost_usd
FROM requests_live
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    {{filters}}
{{group_by}}

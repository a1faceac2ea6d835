-- name: metric_volume
-- params: since DateTime64(3), until DateTime64(3), plus the dims, filters and group_by slots of metrics.dimensions
-- returns: one column per dimension, requests UInt64, users UInt64, cost_usd Decimal (model spend)
SELECT
    {{dims}}
    count() AS requests,
    -- uniqExact keeps a 128-bit hash of each string; a 64-bit one counts the same users (a collision among
    -- millions is a one-in-a-billion event) at half the cost
    uniqExact(cityHash64(user_id)) AS users,
    sum(cost_usd) AS cost_usd
FROM requests_live
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    {{filters}}
{{group_by}}

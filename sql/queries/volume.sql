-- name: volume
-- params: since DateTime64(3), until DateTime64(3); the dims, filters and group_by slots come from metrics.dimensions
-- returns: one column per dimension, requests UInt64, users UInt64, cost_usd Decimal(38, 9)
SELECT
    {{dims}}
    count() AS requests,
    uniqExact(user_id) AS users,
    sum(cost_usd) AS cost_usd
FROM requests FINAL
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    {{filters}}
{{group_by}}
ORDER BY requests DESC

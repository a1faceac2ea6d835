-- name: metric_volume
-- params: since DateTime64(3), until DateTime64(3), plus the dims, filters and group_by slots of metrics.dimensions
-- slots: dims, filters, group_by
-- returns: one column per dimension, requests UInt64, users UInt64, cost_usd Decimal (model spend of the priced
-- requests; NULL when none is priced), unpriced UInt64 (requests whose cost is not known: in requests, not in
-- cost_usd)
SELECT
    {{dims}}
    count() AS requests,
    -- user_key is the user's 64-bit hash (uniqExact would hash the string to 128 bits: a collision among
    -- millions of users is a one-in-a-billion event either way), counted at half the cost
    uniqExact(user_key) AS users,
    sum(cost_usd) AS cost_usd,  -- a NULL (unpriced) cost is skipped, never added as $0
    countIf(isNull(cost_usd)) AS unpriced
FROM requests_live
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    {{filters}}
{{group_by}}

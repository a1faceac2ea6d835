-- name: health_unpriced
-- params: none
-- returns: requests UInt64 (live requests), unpriced UInt64 (those with neither a cost nor a price: cost_usd NULL,
-- counted in volume and quality and in no cost), models Array(String) (up to 5 of their models, the most frequent
-- first: what routes.toml lacks a price for)
SELECT
    count() AS requests,
    countIf(isNull(cost_usd)) AS unpriced,
    topKIf(5)(toString(model), isNull(cost_usd)) AS models
FROM requests_live

-- name: metric_router_overhead
-- params: since DateTime64(3), until DateTime64(3), plus the dims, filters and group_by slots of metrics.dimensions
-- slots: dims, filters, group_by
-- returns: one column per dimension, requests UInt64, timed UInt64 (requests that report router_latency_ms),
-- p50_ms, p95_ms Float64 (the router's own latency, exact), router_cost_usd Decimal (what routing itself cost,
-- over priced requests, as every cost), unpriced UInt64 (requests whose cost is not known)
SELECT
    {{dims}}
    count() AS requests,
    countIf(isNotNull(router_latency_ms)) AS timed,
    quantileExactInclusiveIf(0.5)(assumeNotNull(router_latency_ms), isNotNull(router_latency_ms)) AS p50_ms,
    quantileExactInclusiveIf(0.95)(assumeNotNull(router_latency_ms), isNotNull(router_latency_ms)) AS p95_ms,
    sumIf(router_cost_usd, isNotNull(cost_usd)) AS router_cost_usd,
    countIf(isNull(cost_usd)) AS unpriced
FROM requests_live
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    {{filters}}
{{group_by}}

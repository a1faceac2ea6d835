-- name: metric_latency
-- params: since DateTime64(3), until DateTime64(3), plus the dims, filters and group_by slots of metrics.dimensions
-- slots: dims, filters, group_by
-- returns: one column per dimension, requests UInt64, p50_ms, p95_ms, p99_ms Float64 (end to end; exact and
-- deterministic: quantileExactInclusive, never the sampling quantile())
SELECT
    {{dims}}
    count() AS requests,
    quantileExactInclusive(0.5)(latency_ms) AS p50_ms,
    quantileExactInclusive(0.95)(latency_ms) AS p95_ms,
    quantileExactInclusive(0.99)(latency_ms) AS p99_ms
FROM requests_live
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    {{filters}}
{{group_by}}

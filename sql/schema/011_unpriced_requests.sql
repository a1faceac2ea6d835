-- Unpriced requests load (a decision of the product owner; a departure from DESIGN.md's data contract, where
-- cost_usd is required): a request with neither a reported cost nor a price in routes.toml has cost_usd NULL and
-- cost_source 'unpriced'. It counts in volume and quality, and in no cost: every cost numerator skips it, and
-- every cost denominator counts priced requests only (the rollup's `priced` and `priced_resolved`), so it never
-- counts as $0. cost_source says where a request's model spend comes from: 'reported' (the default, and what the
-- canonical format means unless it says otherwise), 'tokens_x_price' (routes.toml's price), 'mixed' (both, over
-- its calls) or 'unpriced'. A call's cost_usd is NULL when it has neither, too.
ALTER TABLE requests
    ADD COLUMN IF NOT EXISTS cost_source LowCardinality(String) DEFAULT 'reported' AFTER human_cost_usd;

ALTER TABLE requests MODIFY COLUMN cost_usd Nullable(Decimal(18, 9)) SETTINGS mutations_sync = 2;

ALTER TABLE calls MODIFY COLUMN cost_usd Nullable(Decimal(18, 9)) SETTINGS mutations_sync = 2;

-- A view's * leaves MATERIALIZED columns out: name it (as in 008).
CREATE OR REPLACE VIEW requests_live AS
SELECT *, user_key FROM requests FINAL;

-- The daily rollup again, with the priced counts, and its cost sums and histograms over priced requests only.
DROP VIEW IF EXISTS rollup_daily_mv;

DROP TABLE IF EXISTS rollup_daily;

CREATE TABLE IF NOT EXISTS rollup_daily
(
    day Date,
    router LowCardinality(String),
    route LowCardinality(String),
    final_route LowCardinality(String),
    model LowCardinality(String),
    language LowCardinality(String),
    channel LowCardinality(String),
    tier LowCardinality(String),
    region LowCardinality(String),
    task_type LowCardinality(String),
    status LowCardinality(String),
    error_type LowCardinality(String),
    escalated Bool,
    escalation_reason LowCardinality(String),
    shadow_route LowCardinality(String),
    requests SimpleAggregateFunction(sum, Int64),
    priced SimpleAggregateFunction(sum, Int64),
    priced_resolved SimpleAggregateFunction(sum, Int64),
    cost_total SimpleAggregateFunction(sum, Decimal(38, 9)),
    router_cost_total SimpleAggregateFunction(sum, Decimal(38, 9)),
    human_cost_total SimpleAggregateFunction(sum, Decimal(38, 9)),
    input_tokens_total SimpleAggregateFunction(sum, Int64),
    output_tokens_total SimpleAggregateFunction(sum, Int64),
    resolved_n SimpleAggregateFunction(sum, Int64),
    resolved_known SimpleAggregateFunction(sum, Int64),
    thumbs_up SimpleAggregateFunction(sum, Int64),
    thumbs_rated SimpleAggregateFunction(sum, Int64),
    csat_sum SimpleAggregateFunction(sum, Int64),
    csat_rated SimpleAggregateFunction(sum, Int64),
    feedback_rated SimpleAggregateFunction(sum, Int64),
    latency_hist SimpleAggregateFunction(sumMap, Map(UInt16, Int64)),
    ttft_hist SimpleAggregateFunction(sumMap, Map(UInt16, Int64)),
    router_latency_hist SimpleAggregateFunction(sumMap, Map(UInt16, Int64)),
    cost_hist SimpleAggregateFunction(sumMap, Map(UInt16, Int64)),
    cost_hist_nanousd SimpleAggregateFunction(sumMap, Map(UInt16, Int64))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, router, route, final_route, model, language, channel, tier, region, task_type, status, error_type,
    escalated, escalation_reason, shadow_route)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_daily_mv TO rollup_daily AS
SELECT
    toDate(ts) AS day,
    router, route, final_route, model, language, channel, tier, region, task_type, status, error_type, escalated,
    escalation_reason, shadow_route,
    sum(sign) AS requests,
    sum(sign * toInt64(isNotNull(cost_usd))) AS priced,
    sum(sign * toInt64(isNotNull(cost_usd) AND coalesce(resolved, false))) AS priced_resolved,
    sum(sign * ifNull(cost_usd, toDecimal64(0, 9))) AS cost_total,
    sum(sign * if(isNull(cost_usd), toDecimal64(0, 9), router_cost_usd)) AS router_cost_total,
    sum(sign * if(isNull(cost_usd), toDecimal64(0, 9), human_cost_usd)) AS human_cost_total,
    sum(sign * toInt64(input_tokens)) AS input_tokens_total,
    sum(sign * toInt64(output_tokens)) AS output_tokens_total,
    sum(sign * toInt64(coalesce(resolved, false))) AS resolved_n,
    sum(sign * toInt64(isNotNull(resolved))) AS resolved_known,
    sum(sign * toInt64(coalesce(thumb, 0) = 1)) AS thumbs_up,
    sum(sign * toInt64(isNotNull(thumb))) AS thumbs_rated,
    sum(sign * toInt64(coalesce(csat, 0))) AS csat_sum,
    sum(sign * toInt64(isNotNull(csat))) AS csat_rated,
    sum(sign * toInt64(isNotNull(thumb) OR isNotNull(csat))) AS feedback_rated,
    sumMap(map(toUInt16(round(40 * log1p(latency_ms))), toInt64(sign))) AS latency_hist,
    sumMapIf(map(toUInt16(round(40 * log1p(coalesce(ttft_ms, 0)))), toInt64(sign)), isNotNull(ttft_ms)) AS ttft_hist,
    sumMapIf(map(toUInt16(round(40 * log1p(coalesce(router_latency_ms, 0)))), toInt64(sign)),
        isNotNull(router_latency_ms)) AS router_latency_hist,
    sumMapIf(map(toUInt16(round(40 * log1p(1e6 * toFloat64(all_in)))), toInt64(sign)), isNotNull(cost_usd))
        AS cost_hist,
    sumMapIf(map(toUInt16(round(40 * log1p(1e6 * toFloat64(all_in)))), sign * toInt64(all_in * 1000000000)),
        isNotNull(cost_usd)) AS cost_hist_nanousd
FROM (SELECT *, ifNull(cost_usd, toDecimal64(0, 9)) + router_cost_usd + human_cost_usd AS all_in FROM requests)
GROUP BY day, router, route, final_route, model, language, channel, tier, region, task_type, status, error_type,
    escalated, escalation_reason, shadow_route;

-- The same SELECT as the view above, over the rows already stored (a materialized view only sees new inserts).
INSERT INTO rollup_daily
SELECT
    toDate(ts) AS day,
    router, route, final_route, model, language, channel, tier, region, task_type, status, error_type, escalated,
    escalation_reason, shadow_route,
    sum(sign) AS requests,
    sum(sign * toInt64(isNotNull(cost_usd))) AS priced,
    sum(sign * toInt64(isNotNull(cost_usd) AND coalesce(resolved, false))) AS priced_resolved,
    sum(sign * ifNull(cost_usd, toDecimal64(0, 9))) AS cost_total,
    sum(sign * if(isNull(cost_usd), toDecimal64(0, 9), router_cost_usd)) AS router_cost_total,
    sum(sign * if(isNull(cost_usd), toDecimal64(0, 9), human_cost_usd)) AS human_cost_total,
    sum(sign * toInt64(input_tokens)) AS input_tokens_total,
    sum(sign * toInt64(output_tokens)) AS output_tokens_total,
    sum(sign * toInt64(coalesce(resolved, false))) AS resolved_n,
    sum(sign * toInt64(isNotNull(resolved))) AS resolved_known,
    sum(sign * toInt64(coalesce(thumb, 0) = 1)) AS thumbs_up,
    sum(sign * toInt64(isNotNull(thumb))) AS thumbs_rated,
    sum(sign * toInt64(coalesce(csat, 0))) AS csat_sum,
    sum(sign * toInt64(isNotNull(csat))) AS csat_rated,
    sum(sign * toInt64(isNotNull(thumb) OR isNotNull(csat))) AS feedback_rated,
    sumMap(map(toUInt16(round(40 * log1p(latency_ms))), toInt64(sign))) AS latency_hist,
    sumMapIf(map(toUInt16(round(40 * log1p(coalesce(ttft_ms, 0)))), toInt64(sign)), isNotNull(ttft_ms)) AS ttft_hist,
    sumMapIf(map(toUInt16(round(40 * log1p(coalesce(router_latency_ms, 0)))), toInt64(sign)),
        isNotNull(router_latency_ms)) AS router_latency_hist,
    sumMapIf(map(toUInt16(round(40 * log1p(1e6 * toFloat64(all_in)))), toInt64(sign)), isNotNull(cost_usd))
        AS cost_hist,
    sumMapIf(map(toUInt16(round(40 * log1p(1e6 * toFloat64(all_in)))), sign * toInt64(all_in * 1000000000)),
        isNotNull(cost_usd)) AS cost_hist_nanousd
FROM (SELECT *, ifNull(cost_usd, toDecimal64(0, 9)) + router_cost_usd + human_cost_usd AS all_in FROM requests)
GROUP BY day, router, route, final_route, model, language, channel, tier, region, task_type, status, error_type,
    escalated, escalation_reason, shadow_route;

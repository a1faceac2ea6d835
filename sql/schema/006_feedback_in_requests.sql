-- Late feedback folded into the requests it rates, and a wider daily rollup.
-- Until 005, requests_live joined late feedback at query time, so resolution, thumbs, CSAT and cost per resolved
-- had to read the request rows. From here a request row carries its outcome with the newest feedback event of
-- each kind applied: loading feedback re-versions the requests it rates (a -1 copy of the live version and a +1
-- version with the events applied, the rows of requests_refolded), and a request loaded after its feedback is
-- loaded with it applied (sql/queries/ingest_decide.sql). The rollups then count outcomes exactly as they count
-- everything else (sign-weighted), and requests_live is requests FINAL.

ALTER TABLE requests ADD COLUMN IF NOT EXISTS tickets UInt32 DEFAULT 0 AFTER csat;

-- The newest feedback event of each kind per request, among events written at or before `version`; NULL for a
-- kind the request has no event of, so that coalesce(f.resolved, r.resolved) applies it.
CREATE VIEW IF NOT EXISTS feedback_newest AS
SELECT
    request_id,
    if(countIf(kind = 'resolved') > 0, toBool(argMaxIf(value, tuple(ts, version), kind = 'resolved') > 0), NULL)
        AS resolved,
    if(countIf(kind = 'thumb') > 0, toInt8(argMaxIf(value, tuple(ts, version), kind = 'thumb')), NULL) AS thumb,
    if(countIf(kind = 'csat') > 0, toUInt8(argMaxIf(value, tuple(ts, version), kind = 'csat')), NULL) AS csat,
    toUInt32(argMaxIf(value, tuple(ts, version), kind = 'ticket')) AS tickets
FROM feedback
WHERE version <= {version:UInt64}
GROUP BY request_id;

-- The rows that apply feedback written from `touched_from` to `version` to the live requests it rates: for each
-- request whose outcome changes, a -1 copy of its live version and the +1 version `version` with the newest
-- events applied. Nothing for a request already up to date, so applying the same feedback twice writes nothing.
CREATE VIEW IF NOT EXISTS requests_refolded AS
WITH changed AS
(
    SELECT
        r.*,
        coalesce(f.resolved, r.resolved) AS new_resolved,
        coalesce(f.thumb, r.thumb) AS new_thumb,
        coalesce(f.csat, r.csat) AS new_csat,
        f.tickets AS new_tickets
    FROM requests AS r FINAL
    INNER JOIN feedback_newest(version = {version:UInt64}) AS f ON r.request_id = f.request_id
    WHERE r.request_id IN
        (SELECT request_id FROM feedback WHERE version >= {touched_from:UInt64} AND version <= {version:UInt64})
        AND NOT (new_resolved <=> r.resolved AND new_thumb <=> r.thumb AND new_csat <=> r.csat
            AND new_tickets = r.tickets)
)
SELECT * EXCEPT (new_resolved, new_thumb, new_csat, new_tickets, change) REPLACE (
    if(change = 1, new_resolved, resolved) AS resolved,
    if(change = 1, new_thumb, thumb) AS thumb,
    if(change = 1, new_csat, csat) AS csat,
    if(change = 1, new_tickets, tickets) AS tickets,
    if(change = 1, {version:UInt64}, version) AS version,
    {version:UInt64} AS written_version,
    change AS sign
)
FROM changed
ARRAY JOIN [toInt8(-1), toInt8(1)] AS change;

-- Feedback loaded before this migration, applied once (a second run finds every request up to date).
INSERT INTO requests
SELECT * FROM requests_refolded(version = {fresh_version:UInt64}, touched_from = 0);

INSERT INTO request_keys
SELECT request_id, ts, row_hash, version
FROM requests FINAL
WHERE request_id IN (SELECT request_id FROM feedback);

-- The daily rollup again, with the error type, the escalation reason and the shadow route among its keys, the
-- feedback coverage, histograms of time to first token and of router latency, and one of the all-in cost (the
-- requests and the nanodollars in each bin of round(40 * log1p(micro-dollars)): where the money goes). Rebuilt from requests: the
-- sums are sign-weighted, so every cancelled version subtracts itself.
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
    sum(sign * cost_usd) AS cost_total,
    sum(sign * router_cost_usd) AS router_cost_total,
    sum(sign * human_cost_usd) AS human_cost_total,
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
    sumMap(map(toUInt16(round(40 * log1p(1e6 * toFloat64(cost_usd + router_cost_usd + human_cost_usd)))),
        toInt64(sign))) AS cost_hist,
    sumMap(map(toUInt16(round(40 * log1p(1e6 * toFloat64(cost_usd + router_cost_usd + human_cost_usd)))),
        sign * toInt64((cost_usd + router_cost_usd + human_cost_usd) * 1000000000))) AS cost_hist_nanousd
FROM requests
GROUP BY day, router, route, final_route, model, language, channel, tier, region, task_type, status, error_type,
    escalated, escalation_reason, shadow_route;

-- The same SELECT as the view above, over the rows already stored (a materialized view only sees new inserts).
INSERT INTO rollup_daily
SELECT
    toDate(ts) AS day,
    router, route, final_route, model, language, channel, tier, region, task_type, status, error_type, escalated,
    escalation_reason, shadow_route,
    sum(sign) AS requests,
    sum(sign * cost_usd) AS cost_total,
    sum(sign * router_cost_usd) AS router_cost_total,
    sum(sign * human_cost_usd) AS human_cost_total,
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
    sumMap(map(toUInt16(round(40 * log1p(1e6 * toFloat64(cost_usd + router_cost_usd + human_cost_usd)))),
        toInt64(sign))) AS cost_hist,
    sumMap(map(toUInt16(round(40 * log1p(1e6 * toFloat64(cost_usd + router_cost_usd + human_cost_usd)))),
        sign * toInt64((cost_usd + router_cost_usd + human_cost_usd) * 1000000000))) AS cost_hist_nanousd
FROM requests
GROUP BY day, router, route, final_route, model, language, channel, tier, region, task_type, status, error_type,
    escalated, escalation_reason, shadow_route;

-- Every outcome is in the row now.
CREATE OR REPLACE VIEW requests_live AS
SELECT * FROM requests FINAL;

-- routewatch core schema.
-- requests holds one row per *version* of a logical request. An update or a re-sent request with new content
-- writes a cancel row (sign = -1, a copy of the old version) and the new version (sign = +1) in one insert, so
-- that the materialized rollups below, which fire on every insert before any merge, always sum to exactly one
-- live version per request. Read live rows with FINAL, or aggregate with sign. written_version is the version
-- of the ingest chunk that wrote the row, so a chunk can be decided again exactly as it was (see ingest/load.py).

-- On a cluster a user's requests live on one shard (the gap statistics group by user shard-local). Every row a
-- request gets keeps its user except a re-sent version that names another: the cancel row is a copy of the
-- version it replaces, so it lands beside it, and the new version on its own user's shard (README, "Past one
-- machine").
-- shard key: cityHash64(user_id)
CREATE TABLE IF NOT EXISTS requests
(
    request_id String,
    ts DateTime64(3, 'UTC'),
    user_id String,
    account_id String,
    session_id String,
    language LowCardinality(String),
    channel LowCardinality(String),
    tier LowCardinality(String),
    region LowCardinality(String),
    segments Map(LowCardinality(String), String),
    task_type LowCardinality(String),
    router LowCardinality(String),
    router_score Nullable(Float64),
    route LowCardinality(String),
    final_route LowCardinality(String),
    model LowCardinality(String),
    escalated Bool,
    escalation_reason LowCardinality(String),
    attempts UInt16,
    retries UInt16,
    input_tokens UInt64,
    output_tokens UInt64,
    cost_usd Decimal(18, 9),
    router_cost_usd Decimal(18, 9),
    human_cost_usd Decimal(18, 9),
    latency_ms Float64,
    ttft_ms Nullable(Float64),
    router_latency_ms Nullable(Float64),
    status LowCardinality(String),
    error_type LowCardinality(String),
    resolved Nullable(Bool),
    thumb Nullable(Int8),
    csat Nullable(UInt8),
    shadow_route LowCardinality(String),
    row_hash UInt64,
    batch_id String,
    source_file String,
    source_line UInt64,
    ingested_at DateTime64(3, 'UTC'),
    version UInt64,
    written_version UInt64,
    sign Int8,
    INDEX idx_request request_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_user user_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_account account_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_tier tier TYPE set(64) GRANULARITY 4,
    INDEX idx_task task_type TYPE set(64) GRANULARITY 4
)
ENGINE = VersionedCollapsingMergeTree(sign, version)
PARTITION BY toYYYYMM(ts)
ORDER BY (toDate(ts), route, language, channel, request_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- The narrow index the loader consults to tell new, duplicate and updated requests apart.
-- shard key: cityHash64(request_id)
CREATE TABLE IF NOT EXISTS request_keys
(
    request_id String,
    ts DateTime64(3, 'UTC'),
    row_hash UInt64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY request_id
SETTINGS non_replicated_deduplication_window = 10000;

-- Per-call detail of a request version; live calls are those whose (request_id, version) is live in requests.
-- shard key: cityHash64(request_id)
CREATE TABLE IF NOT EXISTS calls
(
    request_id String,
    version UInt64,
    call_index UInt16,
    model LowCardinality(String),
    route LowCardinality(String),
    input_tokens UInt64,
    output_tokens UInt64,
    cost_usd Decimal(18, 9),
    latency_ms Float64,
    status LowCardinality(String),
    error_type LowCardinality(String)
)
ENGINE = ReplacingMergeTree
ORDER BY (request_id, version, call_index)
SETTINGS non_replicated_deduplication_window = 10000;

-- Late feedback, joined to requests at query time; the newest event of a kind wins.
-- shard key: cityHash64(request_id)
CREATE TABLE IF NOT EXISTS feedback
(
    request_id String,
    ts DateTime64(3, 'UTC'),
    kind LowCardinality(String),
    value Float64,
    row_hash UInt64,
    batch_id String,
    source_file String,
    source_line UInt64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (request_id, kind, ts)
SETTINGS non_replicated_deduplication_window = 10000;

-- Rows that failed parsing or validation, with every reason. Keyed by file content and line, so loading the
-- same file twice quarantines nothing twice.
-- shard key: cityHash64(file_hash)
CREATE TABLE IF NOT EXISTS quarantine
(
    file_hash String,
    source_line UInt64,
    source_file String,
    batch_id String,
    raw String,
    reasons Array(String),
    quarantined_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (file_hash, source_line)
SETTINGS non_replicated_deduplication_window = 10000;

-- The ledger: one row per ingest batch (one input file in one run), rewritten as it progresses.
-- shard key: cityHash64(batch_id)
CREATE TABLE IF NOT EXISTS ingest_batches
(
    batch_id String,
    source_file String,
    file_hash String,
    format LowCardinality(String),
    status LowCardinality(String),
    started_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC'),
    rows_read UInt64,
    rows_loaded UInt64,
    rows_quarantined UInt64,
    rows_duplicate UInt64,
    message String
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY batch_id;

-- Daily rollup over every segment column: sums weighted by sign, so a cancelled version subtracts itself.
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
    escalated Bool,
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
    shadow_compared SimpleAggregateFunction(sum, Int64),
    shadow_diverged SimpleAggregateFunction(sum, Int64),
    latency_hist SimpleAggregateFunction(sumMap, Map(UInt16, Int64))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, router, route, final_route, model, language, channel, tier, region, task_type, status, escalated)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_daily_mv TO rollup_daily AS
SELECT
    toDate(ts) AS day,
    router, route, final_route, model, language, channel, tier, region, task_type, status, escalated,
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
    sum(sign * toInt64(shadow_route != '')) AS shadow_compared,
    sum(sign * toInt64(shadow_route != '' AND shadow_route != route)) AS shadow_diverged,
    sumMap(map(toUInt16(round(40 * log1p(latency_ms))), toInt64(sign))) AS latency_hist
FROM requests
GROUP BY day, router, route, final_route, model, language, channel, tier, region, task_type, status, escalated;

-- Hourly rollup over the route columns, for time series at fine grain.
CREATE TABLE IF NOT EXISTS rollup_hourly
(
    hour DateTime('UTC'),
    router LowCardinality(String),
    route LowCardinality(String),
    final_route LowCardinality(String),
    model LowCardinality(String),
    status LowCardinality(String),
    escalated Bool,
    requests SimpleAggregateFunction(sum, Int64),
    cost_total SimpleAggregateFunction(sum, Decimal(38, 9)),
    latency_hist SimpleAggregateFunction(sumMap, Map(UInt16, Int64)),
    ttft_hist SimpleAggregateFunction(sumMap, Map(UInt16, Int64))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, router, route, final_route, model, status, escalated)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_hourly_mv TO rollup_hourly AS
SELECT
    toStartOfHour(ts) AS hour,
    router, route, final_route, model, status, escalated,
    sum(sign) AS requests,
    sum(sign * cost_usd) AS cost_total,
    sumMap(map(toUInt16(round(40 * log1p(latency_ms))), toInt64(sign))) AS latency_hist,
    sumMapIf(map(toUInt16(round(40 * log1p(coalesce(ttft_ms, 0)))), toInt64(sign)), isNotNull(ttft_ms)) AS ttft_hist
FROM requests
GROUP BY hour, router, route, final_route, model, status, escalated;

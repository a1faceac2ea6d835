-- gap_decisions: the verdict on every segment contrast for every closed decision window (a UTC day), written
-- once by `routewatch decide`; running the job again on a decided window changes nothing. The CUSUM columns
-- carry the early-warning statistic from window to window.
-- shard key: cityHash64(dimension, segment, metric)
CREATE TABLE IF NOT EXISTS gap_decisions
(
    window_start Date,
    dimension LowCardinality(String),
    segment String,
    reference String,
    metric LowCardinality(String),
    value Nullable(Float64),
    reference_value Nullable(Float64),
    gap Nullable(Float64),
    ci_low Nullable(Float64),
    ci_high Nullable(Float64),
    adjusted_gap Nullable(Float64),
    adjusted_se Nullable(Float64),
    p_value Nullable(Float64),
    p_adjusted Nullable(Float64),
    requests UInt64,
    users UInt64,
    status LowCardinality(String),
    cusum_up Float64,
    cusum_down Float64,
    cusum_alarm Bool,
    note String,
    decided_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(decided_at)
ORDER BY (window_start, dimension, segment, metric);

-- gap_windows: the gap table of each trailing window (the last 7, 14 and 28 closed UTC days as of a closed day,
-- over every router or one router version) for one dimension on the default metrics, written by `routewatch decide`
-- so that the dashboard's usual views read a stored table instead of scanning the window's requests. One row per
-- row of the table (metrics.gaps.GapRow, in its order: position); data_version is the newest request version in
-- the window when it was computed (a table is current while no request of its window has changed since), and a
-- table computed again replaces the rows of the one before (the newest computed_at wins).
-- shard key: cityHash64(as_of, days, router, dimension)
CREATE TABLE IF NOT EXISTS gap_windows
(
    as_of Date,
    days UInt16,
    router String,
    dimension LowCardinality(String),
    metrics String,
    data_version UInt64,
    computed_at DateTime64(3, 'UTC'),
    position UInt32,
    segment String,
    reference String,
    metric LowCardinality(String),
    value Float64,
    reference_value Float64,
    gap Float64,
    ci_low Float64,
    ci_high Float64,
    p_value Float64,
    p_adjusted Float64,
    adjusted_gap Float64,
    requests UInt64,
    users UInt64,
    status LowCardinality(String),
    reference_requests UInt64,
    trials Float64,
    deff Float64,
    n_eff Float64,
    mde Float64,
    value_ci_low Float64,
    value_ci_high Float64,
    adjusted_se Float64,
    p_adjusted_test Float64,
    coverage Float64,
    p_raw_adjusted Float64,
    fcr_ci_low Float64,
    fcr_ci_high Float64,
    severity Nullable(String),
    standardized_gap Float64,
    adjusted_by Nullable(String),
    note String
)
ENGINE = ReplacingMergeTree(computed_at)
ORDER BY (as_of, days, router, dimension, metrics, position);

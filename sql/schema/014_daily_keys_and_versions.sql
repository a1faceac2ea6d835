-- segment_keys_daily: how many live requests carry each key of the segments map, per day, kept as the requests are
-- written (sums weighted by sign, as rollup_daily's), so that the dashboard lists the segments.<key> dimensions from
-- a few rows instead of reading every request's map.
-- shard key: cityHash64(key)
CREATE TABLE IF NOT EXISTS segment_keys_daily
(
    day Date,
    key String,
    requests Int64
)
ENGINE = SummingMergeTree
ORDER BY (day, key);

CREATE MATERIALIZED VIEW IF NOT EXISTS segment_keys_daily_mv TO segment_keys_daily AS
SELECT toDate(ts) AS day, key, sum(sign) AS requests
FROM requests
ARRAY JOIN segments.keys AS key
GROUP BY day, key;

-- The same SELECT as the view above, over the rows already stored (a materialized view only sees new inserts).
INSERT INTO segment_keys_daily
SELECT toDate(ts) AS day, key, sum(sign) AS requests
FROM requests
ARRAY JOIN segments.keys AS key
GROUP BY day, key;

-- request_versions_daily: the newest version of any request row of each day, kept as the requests are written, so
-- that a stored trailing window (gap_windows) is known to be current by reading a few rows: any write to a day's
-- requests (a new request, a replaced version, late feedback folded in) brings a newer version.
-- shard key: cityHash64(day)
CREATE TABLE IF NOT EXISTS request_versions_daily
(
    day Date,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY day;

CREATE MATERIALIZED VIEW IF NOT EXISTS request_versions_daily_mv TO request_versions_daily AS
SELECT toDate(ts) AS day, max(version) AS version
FROM requests
GROUP BY day;

INSERT INTO request_versions_daily
SELECT toDate(ts) AS day, max(version) AS version
FROM requests
GROUP BY day;

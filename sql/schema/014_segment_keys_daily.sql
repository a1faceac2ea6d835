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

-- name: gap_latency_sample
-- params: since DateTime64(3), until DateTime64(3), segments Array(String) and shares Array(UInt8) (percent of
-- users to keep in each segment); it includes the part gap_modal_segment (the segment slot); the filters slot
-- holds the filters of metrics.dimensions
-- slots: filters
-- returns: segment String, user_id UInt64 (the user's key), latency_ms Float64, task_type String, hour_of_day UInt8
-- for whole users sampled by hash (clusters stay intact), each user in their modal segment as in gap_cells
WITH modal AS
(
    {{> gap_modal_segment}}
)
SELECT
    m.segment AS segment,
    r.user_key AS user_id,
    r.latency_ms AS latency_ms,
    r.task_type AS task_type,
    toHour(r.ts) AS hour_of_day
FROM requests_live AS r
INNER JOIN modal AS m ON r.user_key = m.user_key
WHERE r.ts >= {since:DateTime64(3)} AND r.ts < {until:DateTime64(3)}
    {{filters}}
    AND r.user_key % 100 < mapFromArrays({segments:Array(String)}, {shares:Array(UInt8)})[m.segment]

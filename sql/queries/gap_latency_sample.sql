-- name: gap_latency_sample
-- params: since DateTime64(3), until DateTime64(3), segments Array(String) and shares Array(UInt8) (percent of
-- users to keep in each segment); the segment slot holds one allow-listed dimension, the filters slot the
-- filters of metrics.dimensions
-- returns: segment String, user_id String, latency_ms Float64 for whole users sampled by hash (clusters stay
-- intact), each user in their modal segment as in gap_cells
WITH modal AS
(
    SELECT user_id, argMax(segment, n) AS segment
    FROM
    (
        SELECT user_id, toString({{segment}}) AS segment, count() AS n
        FROM requests_live
        WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
            {{filters}}
        GROUP BY user_id, segment
    )
    GROUP BY user_id
)
SELECT m.segment AS segment, r.user_id AS user_id, r.latency_ms AS latency_ms
FROM requests_live AS r
INNER JOIN modal AS m ON r.user_id = m.user_id
WHERE r.ts >= {since:DateTime64(3)} AND r.ts < {until:DateTime64(3)}
    {{filters}}
    AND cityHash64(r.user_id) % 100 < mapFromArrays({segments:Array(String)}, {shares:Array(UInt8)})[m.segment]

-- name: gap_cells
-- params: since DateTime64(3), until DateTime64(3); the segment slot holds one allow-listed dimension and the
-- filters slot the filters of metrics.dimensions (on columns the outer query does not alias)
-- returns: segment String, task_type String, user_id String, requests UInt64, escalated UInt64, errors UInt64,
-- known UInt64, resolved UInt64, rated UInt64, thumbs_up UInt64, cost Float64 (model spend), csat_1 .. csat_5
-- UInt64 (ratings per level). Each user counts in one segment only, the one most of their requests fall in, so
-- that the groups compared never share a user.
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
SELECT
    m.segment AS segment,
    r.task_type AS task_type,
    r.user_id AS user_id,
    count() AS requests,
    countIf(r.escalated) AS escalated,
    countIf(r.status = 'error') AS errors,
    countIf(isNotNull(r.resolved)) AS known,
    countIf(r.resolved) AS resolved,
    countIf(isNotNull(r.thumb)) AS rated,
    countIf(r.thumb = 1) AS thumbs_up,
    sum(toFloat64(r.cost_usd)) AS cost,
    countIf(r.csat = 1) AS csat_1,
    countIf(r.csat = 2) AS csat_2,
    countIf(r.csat = 3) AS csat_3,
    countIf(r.csat = 4) AS csat_4,
    countIf(r.csat = 5) AS csat_5
FROM requests_live AS r
INNER JOIN modal AS m ON r.user_id = m.user_id
WHERE r.ts >= {since:DateTime64(3)} AND r.ts < {until:DateTime64(3)}
    {{filters}}
GROUP BY segment, task_type, user_id

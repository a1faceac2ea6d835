-- name: gap_cells
-- params: since DateTime64(3), until DateTime64(3); the segment slot holds one allow-listed dimension
-- returns: segment String, task_type String, user_id String, requests UInt64, escalated UInt64, errors UInt64,
-- known UInt64, resolved UInt64, rated UInt64, thumbs_up UInt64. Each user counts in one segment only, the one
-- most of their requests fall in, so that the groups compared never share a user.
WITH modal AS
(
    SELECT user_id, argMax(segment, n) AS segment
    FROM
    (
        SELECT user_id, toString({{segment}}) AS segment, count() AS n
        FROM requests_live
        WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
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
    countIf(r.thumb = 1) AS thumbs_up
FROM requests_live AS r
INNER JOIN modal AS m ON r.user_id = m.user_id
WHERE r.ts >= {since:DateTime64(3)} AND r.ts < {until:DateTime64(3)}
GROUP BY segment, task_type, user_id

-- name: calibration_cells
-- params: since DateTime64(3), until DateTime64(3), edges Array(Float64) (the reference's score quintile edges);
-- it includes the part gap_modal_segment (the segment slot); the filters slot holds the filters of
-- metrics.dimensions
-- slots: filters
-- returns: segment String, task_type String (the score bin, 'bin 1' to 'bin 5', in the place of the task type so
-- that the audit's models adjust for it), user_id UInt64 (the user's key), requests UInt64, escalated UInt64,
-- known UInt64, resolved UInt64, rated UInt64, thumbs_up UInt64, score_sum Float64: per (segment, bin, user), over
-- the requests with a router score, each user whole in their modal segment
WITH modal AS
(
    {{> gap_modal_segment}}
)
SELECT
    m.segment AS segment,
    concat('bin ', toString(1 + arrayCount(e -> r.router_score > e, {edges:Array(Float64)}))) AS task_type,
    r.user_key AS user_id,
    count() AS requests,
    sum(r.escalated) AS escalated,
    count(r.resolved) AS known,
    countIf(r.resolved) AS resolved,
    count(r.thumb) AS rated,
    countIf(r.thumb = 1) AS thumbs_up,
    sum(r.router_score) AS score_sum
FROM requests_live AS r
INNER JOIN modal AS m ON r.user_key = m.user_key
WHERE r.ts >= {since:DateTime64(3)} AND r.ts < {until:DateTime64(3)}
    AND r.router_score IS NOT NULL
    {{filters}}
GROUP BY segment, task_type, user_id

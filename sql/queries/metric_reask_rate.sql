-- name: metric_reask_rate
-- params: since DateTime64(3), until DateTime64(3), reask_window_ms UInt64, plus the dims, filters and group_by
-- slots of metrics.dimensions; the reask_source slot holds the part reask_requests
-- slots: dims, reask_source, filters, group_by
-- returns: one column per dimension, requests UInt64, reasked UInt64 (followed by another request of the same user
-- in the same session within the window, or escalated for a user_retry), reask_rate Float64 (reasked / requests)
SELECT
    {{dims}}
    count() AS requests,
    countIf(reasked) AS reasked,
    countIf(reasked) / count() AS reask_rate
FROM {{reask_source}}
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    {{filters}}
{{group_by}}

-- name: metric_escalation_rate
-- params: since DateTime64(3), until DateTime64(3), plus the dims, filters and group_by slots of metrics.dimensions
-- slots: dims, filters, group_by
-- returns: one column per dimension, requests UInt64, escalated UInt64, escalation_rate Float64
SELECT
    {{dims}}
    count() AS requests,
    countIf(escalated) AS escalated,
    countIf(escalated) / count() AS escalation_rate
FROM requests_live
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    {{filters}}
{{group_by}}

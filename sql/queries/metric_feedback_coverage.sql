-- name: metric_feedback_coverage
-- params: since DateTime64(3), until DateTime64(3), plus the dims, filters and group_by slots of metrics.dimensions
-- slots: dims, filters, group_by
-- returns: one column per dimension, requests UInt64, rated UInt64 (a thumb or a CSAT), feedback_coverage Float64
SELECT
    {{dims}}
    count() AS requests,
    countIf(isNotNull(thumb) OR isNotNull(csat)) AS rated,
    countIf(isNotNull(thumb) OR isNotNull(csat)) / count() AS feedback_coverage
FROM requests_live
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    {{filters}}
{{group_by}}

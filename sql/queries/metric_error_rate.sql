-- name: metric_error_rate
-- params: since DateTime64(3), until DateTime64(3), plus the dims, filters and group_by slots of metrics.dimensions
-- slots: dims, filters, group_by
-- returns: one column per dimension, requests UInt64, errors UInt64, error_rate Float64
SELECT
    {{dims}}
    count() AS requests,
    countIf(status = 'error') AS errors,
    countIf(status = 'error') / count() AS error_rate
FROM requests_live
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    {{filters}}
{{group_by}}

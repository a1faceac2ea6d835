-- name: metric_thumbs_up_rate
-- params: since DateTime64(3), until DateTime64(3), plus the dims, filters and group_by slots of metrics.dimensions
-- slots: dims, filters, group_by
-- returns: one column per dimension, requests UInt64, rated UInt64, thumbs_up UInt64, thumbs_up_rate Float64
-- (among rated; NULL when none is rated)
SELECT
    {{dims}}
    count() AS requests,
    countIf(isNotNull(thumb)) AS rated,
    countIf(thumb = 1) AS thumbs_up,
    if(countIf(isNotNull(thumb)) = 0, NULL, countIf(thumb = 1) / countIf(isNotNull(thumb))) AS thumbs_up_rate
FROM requests_live
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    {{filters}}
{{group_by}}

-- name: metric_resolution_rate
-- params: since DateTime64(3), until DateTime64(3), plus the dims, filters and group_by slots of metrics.dimensions
-- slots: dims, filters, group_by
-- returns: one column per dimension, requests UInt64, resolved UInt64, known UInt64 (outcome known),
-- resolution_rate Float64 (resolved among known; NULL when none is known)
SELECT
    {{dims}}
    count() AS requests,
    countIf(resolved) AS resolved,
    countIf(isNotNull(resolved)) AS known,
    if(known = 0, NULL, countIf(resolved) / countIf(isNotNull(resolved))) AS resolution_rate
FROM requests_live
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    {{filters}}
{{group_by}}

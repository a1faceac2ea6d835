-- name: metric_csat
-- params: since DateTime64(3), until DateTime64(3), plus the dims, filters and group_by slots of metrics.dimensions
-- slots: dims, filters, group_by
-- returns: one column per dimension, requests UInt64, rated UInt64, csat_total Int64 (the sum of the scores),
-- mean_csat Float64 (csat_total / rated; NULL when none is rated)
SELECT
    {{dims}}
    count() AS requests,
    countIf(isNotNull(csat)) AS rated,
    sum(toInt64(coalesce(csat, 0))) AS csat_total,
    if(rated = 0, NULL, csat_total / rated) AS mean_csat
FROM requests_live
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    {{filters}}
{{group_by}}

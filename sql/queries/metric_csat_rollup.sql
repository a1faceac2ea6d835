-- name: metric_csat_rollup
-- params: since_day Date32, until_day Date32 (exclusive), plus the dims, filters and group_by slots (rollup dimensions)
-- slots: dims, filters, group_by
-- returns: the columns of metric_csat, from rollup_daily (exact, late feedback included)
SELECT
    {{dims}}
    sum(requests) AS requests,
    sum(csat_rated) AS rated,
    sum(csat_sum) AS csat_total,
    if(rated = 0, NULL, csat_total / rated) AS mean_csat
FROM rollup_daily
WHERE day >= {since_day:Date32} AND day < {until_day:Date32}
    {{filters}}
{{group_by}}
HAVING sum(requests) > 0

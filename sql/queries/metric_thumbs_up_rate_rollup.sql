-- name: metric_thumbs_up_rate_rollup
-- params: since_day Date32, until_day Date32 (exclusive), plus the dims, filters and group_by slots (rollup dimensions)
-- slots: dims, filters, group_by
-- returns: the columns of metric_thumbs_up_rate, from rollup_daily (exact, late feedback included)
SELECT
    {{dims}}
    sum(requests) AS requests,
    sum(thumbs_rated) AS rated,
    sum(thumbs_up) AS thumbs_up,
    if(rated = 0, NULL, sum(thumbs_up) / rated) AS thumbs_up_rate
FROM rollup_daily
WHERE day >= {since_day:Date32} AND day < {until_day:Date32}
    {{filters}}
{{group_by}}
HAVING sum(requests) > 0

-- name: metric_resolution_rate_rollup
-- params: since_day Date32, until_day Date32 (exclusive), plus the dims, filters and group_by slots (rollup dimensions)
-- slots: dims, filters, group_by
-- returns: the columns of metric_resolution_rate, from rollup_daily (exact: outcomes are folded into the request
-- rows, and the rollup's sums are sign-weighted)
SELECT
    {{dims}}
    sum(requests) AS requests,
    sum(resolved_n) AS resolved,
    sum(resolved_known) AS known,
    if(known = 0, NULL, resolved / known) AS resolution_rate
FROM rollup_daily
WHERE day >= {since_day:Date32} AND day < {until_day:Date32}
    {{filters}}
{{group_by}}
HAVING sum(requests) > 0

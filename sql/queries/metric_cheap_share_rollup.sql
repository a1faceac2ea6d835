-- name: metric_cheap_share_rollup
-- params: since_day Date32, until_day Date32 (exclusive), cheap_route String, plus the dims, filters and group_by
-- slots (rollup dimensions)
-- slots: dims, filters, group_by
-- returns: the columns of metric_cheap_share, from rollup_daily (exact: its sums are sign-weighted)
SELECT
    {{dims}}
    sum(requests) AS requests,
    sumIf(requests, final_route = {cheap_route:String}) AS cheap,
    sumIf(requests, final_route = {cheap_route:String}) / sum(requests) AS cheap_share
FROM rollup_daily
WHERE day >= {since_day:Date32} AND day < {until_day:Date32}
    {{filters}}
{{group_by}}
HAVING sum(requests) > 0

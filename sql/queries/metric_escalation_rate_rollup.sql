-- name: metric_escalation_rate_rollup
-- params: since_day Date32, until_day Date32 (exclusive), plus the dims, filters and group_by slots (rollup dimensions)
-- slots: dims, filters, group_by
-- returns: the columns of metric_escalation_rate, from rollup_daily (exact: its sums are sign-weighted)
SELECT
    {{dims}}
    sum(requests) AS requests,
    sumIf(requests, escalated) AS escalated,
    sumIf(requests, escalated) / sum(requests) AS escalation_rate
FROM rollup_daily
WHERE day >= {since_day:Date32} AND day < {until_day:Date32}
    {{filters}}
{{group_by}}
HAVING sum(requests) > 0

-- name: metric_feedback_coverage_rollup
-- params: since_day Date32, until_day Date32 (exclusive), plus the dims, filters and group_by slots (rollup dimensions)
-- slots: dims, filters, group_by
-- returns: the columns of metric_feedback_coverage, from rollup_daily (exact, late feedback included)
SELECT
    {{dims}}
    sum(requests) AS requests,
    sum(feedback_rated) AS rated,
    rated / sum(requests) AS feedback_coverage
FROM rollup_daily
WHERE day >= {since_day:Date32} AND day < {until_day:Date32}
    {{filters}}
{{group_by}}
HAVING sum(requests) > 0

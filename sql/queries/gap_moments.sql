-- name: gap_moments
-- params: those of gap_cells; the cells slot holds gap_cells at its 'groups' grain, the moments slot the part
-- gap_more_moments when the run compares CSAT or cost (or nothing)
-- slots: cells, moments
-- returns: grain String ('segment': one row per segment; 'task': one row per (segment, task_type)), segment String,
-- task_type String (empty on segment rows), the sums of gap_cells (requests, escalated, errors, known, resolved,
-- rated, thumbs_up UInt64, and those of gap_more_sums), then, meaningful on segment rows only: users UInt64,
-- users_T UInt64 (users with any T: requests, known, rated), sq_C UInt64 (the sum over users of C squared, for
-- each count C) and X_x_T UInt64 (the sum over users of X times T, for each ratio X / T of metrics.gaps.RATIOS).
-- Each user's sums stay in the store: the cluster-robust variances need only these sums over users.
SELECT
    if(grain = 'user', 'segment', grain) AS grain,
    segment,
    task_type,
    sum(requests) AS requests,
    sum(escalated) AS escalated,
    sum(errors) AS errors,
    sum(known) AS known,
    sum(resolved) AS resolved,
    sum(rated) AS rated,
    sum(thumbs_up) AS thumbs_up,
    count() AS users,
    countIf(requests > 0) AS users_requests,
    countIf(known > 0) AS users_known,
    countIf(rated > 0) AS users_rated,
    sum(requests * requests) AS sq_requests,
    sum(known * known) AS sq_known,
    sum(rated * rated) AS sq_rated,
    sum(escalated * escalated) AS sq_escalated,
    sum(escalated * requests) AS escalated_x_requests,
    sum(errors * errors) AS sq_errors,
    sum(errors * requests) AS errors_x_requests,
    sum(resolved * resolved) AS sq_resolved,
    sum(resolved * known) AS resolved_x_known,
    sum(thumbs_up * thumbs_up) AS sq_thumbs_up,
    sum(thumbs_up * rated) AS thumbs_up_x_rated
    {{moments}}
FROM
(
    {{cells}}
)
GROUP BY grain, segment, task_type
-- The sums above take the names of the columns they sum; the squares must read the columns, not the sums.
SETTINGS prefer_column_name_to_alias = 1

-- name: gap_cells
-- params: since DateTime64(3), until DateTime64(3); the modal slot holds gap_modal_segment, the filters slot the
-- filters of metrics.dimensions, and the grain slot one of metrics.gaps.GRAINS: a row per (segment, task_type,
-- user_id) cell, or the far fewer rows per (segment, user_id) and per (segment, task_type) with grain 'user' or
-- 'task' (the other key left empty)
-- returns: grain String, segment String, task_type String, user_id UInt64 (the user's key), requests UInt64,
-- escalated UInt64, errors UInt64, known UInt64, resolved UInt64, rated UInt64, thumbs_up UInt64, cost Float64 (model spend),
-- cost_sq Float64 (the sum of each request's squared spend), cost_within Float64 (spend less what the same
-- requests cost on average in their segment and task type: per user, the residual that gives cost's design effect
-- within task types), csat_1 .. csat_5 UInt64 (ratings per level). Each user counts whole in their modal segment.
WITH modal AS
(
    {{modal}}
)
SELECT
    {{grain_column}} AS grain,
    segment,
    task_type,
    user_key AS user_id,
    sum(n) AS requests,
    sum(n_escalated) AS escalated,
    sum(n_errors) AS errors,
    sum(n_known) AS known,
    sum(n_resolved) AS resolved,
    sum(n_rated) AS rated,
    sum(n_thumbs_up) AS thumbs_up,
    sum(spend) AS cost,
    sum(spend_sq) AS cost_sq,
    sum(spend - n * task_mean) AS cost_within,
    sum(c1) AS csat_1,
    sum(c2) AS csat_2,
    sum(c3) AS csat_3,
    sum(c4) AS csat_4,
    sum(c5) AS csat_5
FROM
(
    SELECT m.segment AS segment, c.*, sum(c.spend) OVER task / sum(c.n) OVER task AS task_mean
    FROM
    (
        SELECT
            user_key,
            task_type,
            count() AS n,
            countIf(escalated) AS n_escalated,
            countIf(status = 'error') AS n_errors,
            countIf(isNotNull(resolved)) AS n_known,
            countIf(resolved) AS n_resolved,
            countIf(isNotNull(thumb)) AS n_rated,
            countIf(thumb = 1) AS n_thumbs_up,
            sum(toFloat64(cost_usd)) AS spend,
            sum(pow(toFloat64(cost_usd), 2)) AS spend_sq,
            countIf(csat = 1) AS c1,
            countIf(csat = 2) AS c2,
            countIf(csat = 3) AS c3,
            countIf(csat = 4) AS c4,
            countIf(csat = 5) AS c5
        FROM requests_live
        WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
            {{filters}}
        GROUP BY user_key, task_type
    ) AS c
    INNER JOIN modal AS m ON c.user_key = m.user_key
    WINDOW task AS (PARTITION BY m.segment, c.task_type)
)
GROUP BY {{grain_keys}}

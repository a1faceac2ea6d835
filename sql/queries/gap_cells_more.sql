-- name: gap_cells_more
-- params: none (fragments of gap_cells)
-- The parts of gap_cells (and of gap_moments: the slot more) that CSAT and cost per request need, each under a
-- "-- slot:" line naming the slot it fills.
-- returns: (added to gap_cells) cost Float64 (model spend), cost_sq Float64 (the sum of each request's squared
-- spend), cost_within Float64 (spend less what the same requests cost on average in their segment and task type:
-- per user, the residual that gives cost's design effect within task types), csat_1 .. csat_5 UInt64 (ratings
-- per level), csat_sum UInt64 (the ratings' sum), csat_n UInt64 (how many); gap_moments adds their moments over
-- users (users_csat_n, sq_csat_n, sq_csat_sum, csat_sum_x_csat_n, sq_cost, cost_x_requests, sq_cost_within).
-- The slot window_bound replaces window where the task means are bound, not computed: on the shards of a cluster
-- (params task_means Array(Float64) and mean_keys Array(Tuple(String, String)), the (segment, task_type) of each
-- mean), because a shard sees only its own users' spend.
-- slot: counts
,
            sum(toFloat64(cost_usd)) AS spend,
            sum(pow(toFloat64(cost_usd), 2)) AS spend_sq,
            countIf(csat = 1) AS c1,
            countIf(csat = 2) AS c2,
            countIf(csat = 3) AS c3,
            countIf(csat = 4) AS c4,
            countIf(csat = 5) AS c5
-- slot: window
, sum(c.spend) OVER (PARTITION BY m.segment, c.task_type) / sum(c.n) OVER (PARTITION BY m.segment, c.task_type)
    AS task_mean
-- slot: sums
,
    sum(spend) AS cost,
    sum(spend_sq) AS cost_sq,
    sum(spend - n * task_mean) AS cost_within,
    sum(c1) AS csat_1,
    sum(c2) AS csat_2,
    sum(c3) AS csat_3,
    sum(c4) AS csat_4,
    sum(c5) AS csat_5,
    sum(c1 + 2 * c2 + 3 * c3 + 4 * c4 + 5 * c5) AS csat_sum,
    sum(c1 + c2 + c3 + c4 + c5) AS csat_n
-- slot: more
,
    sum(cost) AS cost,
    sum(cost_sq) AS cost_sq,
    sum(cost_within) AS cost_within,
    sum(csat_1) AS csat_1,
    sum(csat_2) AS csat_2,
    sum(csat_3) AS csat_3,
    sum(csat_4) AS csat_4,
    sum(csat_5) AS csat_5,
    sum(csat_sum) AS csat_sum,
    sum(csat_n) AS csat_n,
    countIf(csat_n > 0) AS users_csat_n,
    sum(csat_n * csat_n) AS sq_csat_n,
    sum(csat_sum * csat_sum) AS sq_csat_sum,
    sum(csat_sum * csat_n) AS csat_sum_x_csat_n,
    sum(cost * cost) AS sq_cost,
    sum(cost * requests) AS cost_x_requests,
    sum(cost_within * cost_within) AS sq_cost_within
-- slot: window_bound
, {task_means:Array(Float64)}[indexOf({mean_keys:Array(Tuple(String, String))}, (m.segment, toString(c.task_type)))]
    AS task_mean

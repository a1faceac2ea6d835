-- name: gap_cells_more
-- params: none (fragments of gap_cells)
-- The parts of gap_cells that CSAT and cost per request need, each under a "-- slot:" line naming the slot of
-- gap_cells it fills.
-- returns (added to gap_cells): cost Float64 (model spend), cost_sq Float64 (the sum of each request's squared
-- spend), cost_within Float64 (spend less what the same requests cost on average in their segment and task type:
-- per user, the residual that gives cost's design effect within task types), csat_1 .. csat_5 UInt64 (ratings
-- per level)
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
    sum(c5) AS csat_5

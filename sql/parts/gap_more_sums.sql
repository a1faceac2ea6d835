-- part: gap_more_sums
-- params: none
-- returns: (added to gap_cells, its sums slot) priced UInt64 (requests whose cost is known: cost per request's
-- denominator; an unpriced request is in no cost sum), cost Float64 (model spend), cost_sq Float64 (the sum of each
-- request's squared spend), cost_within Float64 (spend less what the same requests cost on average in their segment
-- and task type: per user, the residual that gives cost's design effect within task types), csat_1 .. csat_5 UInt64
-- (ratings per level), csat_sum UInt64 (the ratings' sum), csat_n UInt64 (how many)
,
sum(priced_n) AS priced,
sum(spend) AS cost,
sum(spend_sq) AS cost_sq,
sum(spend - priced_n * task_mean) AS cost_within,
sum(c1) AS csat_1,
sum(c2) AS csat_2,
sum(c3) AS csat_3,
sum(c4) AS csat_4,
sum(c5) AS csat_5,
sum(c1 + 2 * c2 + 3 * c3 + 4 * c4 + 5 * c5) AS csat_sum,
sum(c1 + c2 + c3 + c4 + c5) AS csat_n

-- part: gap_more_moments
-- params: none
-- returns: (added to gap_moments, its more slot) the sums of gap_more_sums and their moments over users:
-- users_csat_n, sq_csat_n, sq_csat_sum, csat_sum_x_csat_n, users_priced, sq_priced, sq_cost, cost_x_priced,
-- sq_cost_within
,
sum(priced) AS priced,
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
countIf(priced > 0) AS users_priced,
sum(priced * priced) AS sq_priced,
sum(cost * cost) AS sq_cost,
sum(cost * priced) AS cost_x_priced,
sum(cost_within * cost_within) AS sq_cost_within

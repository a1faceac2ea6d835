-- part: gap_more_counts
-- params: none
-- returns: (added to each pair of gap_cells) priced_n UInt64 (requests whose cost is known), spend Float64,
-- spend_sq Float64 (an unpriced request adds nothing, it is not $0), c1 .. c5 UInt64: the spend, its squares and the
-- ratings per level that CSAT and cost per request need (gap_cells' counts slot)
,
count(cost_usd) AS priced_n,
sum(toFloat64(ifNull(cost_usd, 0))) AS spend,
sum(pow(toFloat64(ifNull(cost_usd, 0)), 2)) AS spend_sq,
countIf(csat = 1) AS c1,
countIf(csat = 2) AS c2,
countIf(csat = 3) AS c3,
countIf(csat = 4) AS c4,
countIf(csat = 5) AS c5

-- name: spend_histogram
-- params: since_day Date32, until_day Date32 (exclusive), plus the dims, filters and group_by slots (rollup
-- dimensions)
-- slots: dims, filters, group_by
-- returns: one column per dimension, requests Int64, priced Int64, cost_usd Decimal (all-in, of the priced
-- requests), counts Map(UInt16, Int64) and nanousd Map(UInt16, Int64): the priced requests and their all-in
-- spend in nanodollars per bin of
-- round(40 * log1p(micro-dollars)), from rollup_daily
SELECT
    {{dims}}
    sum(requests) AS requests,
    sum(priced) AS priced,
    sum(cost_total + router_cost_total + human_cost_total) AS cost_usd,
    sumMap(cost_hist) AS counts,
    sumMap(cost_hist_nanousd) AS nanousd
FROM rollup_daily
WHERE day >= {since_day:Date32} AND day < {until_day:Date32}
    {{filters}}
{{group_by}}
HAVING sum(requests) > 0

-- name: metric_spend_concentration
-- params: since DateTime64(3), until DateTime64(3), plus the dims, filters and group_by slots of metrics.dimensions
-- slots: dims, filters, group_by
-- returns: one column per dimension, requests UInt64, unpriced UInt64 (requests whose cost is not known: left out
-- of the rest), cost_usd Decimal (all-in), top_1pct_cost_usd Decimal (the all-in cost of the ceil(1%) most
-- expensive priced requests), top_1pct_share Float64 (their share of the spend)
SELECT * EXCEPT top_n, if(cost_usd = 0, NULL, toFloat64(top_1pct_cost_usd) / toFloat64(cost_usd)) AS top_1pct_share
FROM
(
    SELECT
        {{dims}}
        count() AS requests,
        countIf(isNull(cost_usd)) AS unpriced,
        -- money: decimal, summed exactly; groupArray skips the NULL all-in cost of an unpriced request
        groupArray(cost_usd + router_cost_usd + human_cost_usd) AS costs,
        arraySum(costs) AS cost_usd,
        arraySum(arraySlice(arrayPartialReverseSort(top_n, costs), 1, top_n)) AS top_1pct_cost_usd,
        toUInt64(ceil(length(costs) / 100)) AS top_n
    FROM requests_live
    WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
        {{filters}}
    {{group_by}}
)

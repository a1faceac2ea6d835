-- name: metric_cheap_share
-- params: since DateTime64(3), until DateTime64(3), plus the dims, filters and group_by slots of metrics.dimensions; cheap_route String (the first of the configured route order)
-- slots: dims, filters, group_by
-- returns: one column per dimension, requests UInt64, cheap UInt64 (answered by the cheapest route), cheap_share Float64
SELECT
    {{dims}}
    count() AS requests,
    countIf(final_route = {cheap_route:String}) AS cheap,
    countIf(final_route = {cheap_route:String}) / count() AS cheap_share
FROM requests_live
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    {{filters}}
{{group_by}}

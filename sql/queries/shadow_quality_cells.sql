-- name: shadow_quality_cells
-- params: since DateTime64(3), until DateTime64(3), order Array(String) (the routes, cheapest first); the segment
-- slot holds one allow-listed dimension, the filters slot the filters of metrics.dimensions
-- slots: segment, filters
-- returns: segment String, side String ('cheaper' or 'dearer': the shadow router would have chosen a cheaper or a
-- dearer route than the live one; 'agree': the same route), target String (the shadow's route), task_type String,
-- user_id UInt64 (the user's key), requests UInt64, known UInt64, resolved UInt64, rated UInt64, thumbs_up UInt64,
-- csat_1 .. csat_5 UInt64 (ratings per level): per cell, over the requests with a shadow route whose two routes
-- are both in the order (the quality of the answer actually given)
SELECT
    toString({{segment}}) AS segment,
    multiIf(
        indexOf({order:Array(String)}, shadow_route) < indexOf({order:Array(String)}, route), 'cheaper',
        indexOf({order:Array(String)}, shadow_route) > indexOf({order:Array(String)}, route), 'dearer',
        'agree'
    ) AS side,
    shadow_route AS target,
    task_type,
    user_key AS user_id,
    count() AS requests,
    count(resolved) AS known,
    countIf(resolved) AS resolved,
    count(thumb) AS rated,
    countIf(thumb = 1) AS thumbs_up,
    countIf(csat = 1) AS csat_1,
    countIf(csat = 2) AS csat_2,
    countIf(csat = 3) AS csat_3,
    countIf(csat = 4) AS csat_4,
    countIf(csat = 5) AS csat_5
FROM requests_live
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    AND indexOf({order:Array(String)}, route) > 0 AND indexOf({order:Array(String)}, shadow_route) > 0
    {{filters}}
GROUP BY segment, side, target, task_type, user_key

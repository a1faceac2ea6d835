-- name: second_class_touched_pair
-- params: sI String (the segment of pair I, with I in place of {{i}}); the dimension slot holds one allow-listed
-- dimension expression (metrics.dimensions)
-- returns: (added to second_class_touched) users_I UInt64 (distinct users of the segment), cost_usd_I Decimal
-- (their model spend)
,
    uniqExactIf(user_key, toString({{dimension}}) = {s{{i}}:String}) AS users_{{i}},
    sumIf(cost_usd, toString({{dimension}}) = {s{{i}}:String}) AS cost_usd_{{i}}

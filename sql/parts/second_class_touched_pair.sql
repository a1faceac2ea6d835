-- part: second_class_touched_pair
-- params: sI String (the segment of pair I)
-- slots: dimension, i
-- The dimension slot holds one allow-listed dimension expression (metrics.dimensions), the i slot the pair's
-- number I; second_class_touched takes this part once for each pair in its pairs slot.
-- returns: (added to second_class_touched) users_I UInt64 (distinct users of the segment), cost_usd_I Decimal
-- (the model spend of their priced requests; an unpriced request adds nothing, it is not $0)
,
uniqExactIf(user_key, toString({{dimension}}) = {s{{i}}:String}) AS users_{{i}},
sumIf(assumeNotNull(cost_usd), toString({{dimension}}) = {s{{i}}:String} AND isNotNull(cost_usd)) AS cost_usd_{{i}}

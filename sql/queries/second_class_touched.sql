-- name: second_class_touched
-- params: since DateTime64(3), until DateTime64(3); the pairs slot holds the part second_class_touched_pair once for each
-- (dimension, segment) asked about, the filters slot the filters of metrics.dimensions
-- slots: filters, pairs
-- returns: users UInt64 (every user of the window and cut), then users_I UInt64 and cost_usd_I Decimal for each
-- pair I. One scan answers for every segment a page shows, where a volume query per dimension would scan the rows
-- once each (distinct users need the rows).
SELECT
    uniqExact(user_key) AS users
    {{pairs}}
FROM requests_live
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    {{filters}}

-- name: gap_modal_segment
-- params: since DateTime64(3), until DateTime64(3); the segment slot holds one allow-listed dimension, the
-- filters slot the filters of metrics.dimensions
-- returns: user_key UInt64, segment String: the segment most of the user's requests in the window fall in (ties
-- to the greatest name). Gap queries count each user whole under this segment, so that the groups compared never
-- share a user; they take this query as their modal slot.
SELECT user_key, argMax(own_segment, (n, own_segment)) AS segment
FROM
(
    SELECT user_key, toString({{segment}}) AS own_segment, count() AS n
    FROM requests_live
    WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
        {{filters}}
    GROUP BY user_key, own_segment
)
GROUP BY user_key

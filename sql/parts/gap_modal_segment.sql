-- part: gap_modal_segment
-- params: since DateTime64(3), until DateTime64(3)
-- slots: segment, filters
-- The segment slot holds one allow-listed dimension (metrics.dimensions.expression), the filters slot the filters
-- of metrics.dimensions.
-- returns: user_key UInt64, segment String: the segment most of the user's requests in the window fall in (ties
-- to the greatest name). Gap queries count each user whole under this segment, so that the groups compared never
-- share a user; they include this part as their modal subquery.
SELECT toUInt64(bitShiftRight(pair, 64)) AS user_key, argMax(own_segment, (n, own_segment)) AS segment
FROM
(
    -- One 128-bit key, the user's key above the segment's hash: grouping on it takes half the time of grouping
    -- on the two columns.
    SELECT
        bitOr(bitShiftLeft(toUInt128(user_key), 64), cityHash64(toString({{segment}}))) AS pair,
        any(toString({{segment}})) AS own_segment,
        count() AS n
    FROM requests_live
    WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
        {{filters}}
    GROUP BY pair
)
GROUP BY user_key

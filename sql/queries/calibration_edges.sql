-- name: calibration_edges
-- params: since DateTime64(3), until DateTime64(3); it includes the part gap_modal_segment (the segment slot);
-- the filters slot holds the filters of metrics.dimensions
-- slots: filters
-- returns: segment String, requests UInt64 (with a router score), edges Array(Float64): the quintile edges of the
-- segment's router scores (the reference's edges bin every segment on one scale)
WITH modal AS
(
    {{> gap_modal_segment}}
)
SELECT m.segment AS segment, count() AS requests, quantilesExactInclusive(0.2, 0.4, 0.6, 0.8)(r.router_score) AS edges
FROM requests_live AS r
INNER JOIN modal AS m ON r.user_key = m.user_key
WHERE r.ts >= {since:DateTime64(3)} AND r.ts < {until:DateTime64(3)}
    AND r.router_score IS NOT NULL
    {{filters}}
GROUP BY segment

-- name: traffic_days
-- params: since DateTime64(3), until DateTime64(3), shadow_only Bool (count only requests with a shadow_route),
-- plus the filters slot of metrics.dimensions
-- slots: filters
-- returns: days UInt64 (UTC days with at least one such request in the window), requests UInt64
SELECT uniqExact(toDate(ts)) AS days, count() AS requests
FROM requests_live
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    AND (NOT {shadow_only:Bool} OR shadow_route != '')
    {{filters}}

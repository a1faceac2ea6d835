-- name: health_orphan_feedback
-- params: none
-- returns: orphan_events UInt64 (feedback events whose request was never loaded), orphan_requests UInt64 (the
-- distinct request ids they rate), older_than_1d UInt64 and older_than_7d UInt64 (orphan events whose ts is that
-- old: the request is unlikely to arrive now), oldest_orphan Nullable(DateTime64) (the oldest orphan's ts)
SELECT
    count() AS orphan_events,
    uniqExact(request_id) AS orphan_requests,
    countIf(ts < now64(3, 'UTC') - INTERVAL 1 DAY) AS older_than_1d,
    countIf(ts < now64(3, 'UTC') - INTERVAL 7 DAY) AS older_than_7d,
    minOrNull(ts) AS oldest_orphan
FROM feedback FINAL
WHERE request_id NOT IN (SELECT request_id FROM request_keys)

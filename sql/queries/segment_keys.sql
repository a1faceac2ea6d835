-- name: segment_keys
-- params: limit UInt32
-- returns: key String, requests UInt64: the keys of the segments map in live requests, the most used first (from
-- segment_keys_daily, which the requests' inserts keep)
SELECT key, toUInt64(sum(requests)) AS requests
FROM segment_keys_daily
GROUP BY key
HAVING requests > 0
ORDER BY requests DESC, key
LIMIT {limit:UInt32}

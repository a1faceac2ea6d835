-- name: segment_keys
-- params: limit UInt32
-- returns: key String, requests UInt64: the keys of the segments map in live requests, the most used first
SELECT key, count() AS requests
FROM requests_live
ARRAY JOIN mapKeys(segments) AS key
GROUP BY key
ORDER BY requests DESC, key
LIMIT {limit:UInt32}

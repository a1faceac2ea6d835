-- name: compact_candidates
-- params: none
-- returns: table String, partition_id String, parts UInt64: partitions of the request tables with more than one
-- active part (a query with FINAL then has to merge them as it reads)
SELECT table, partition_id, count() AS parts
FROM system.parts
WHERE database = currentDatabase() AND active AND table IN ('requests', 'request_keys', 'feedback')
GROUP BY table, partition_id
HAVING parts > 1
ORDER BY table, partition_id

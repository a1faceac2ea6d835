-- name: capacity_parts
-- params: none
-- returns: table String, rows UInt64, compressed_bytes UInt64, uncompressed_bytes UInt64: the active parts of each
-- table of the store's database as they lie on disk (what a shard stores; a replica stores the same again)
SELECT
    table,
    sum(rows) AS rows,
    sum(data_compressed_bytes) AS compressed_bytes,
    sum(data_uncompressed_bytes) AS uncompressed_bytes
FROM system.parts
WHERE database = currentDatabase() AND active
GROUP BY table
ORDER BY compressed_bytes DESC

-- name: ingest_overlap
-- params: unwritten_from UInt64 (the version of the oldest earlier chunk whose requests are not written yet)
-- returns: overlap UInt64: how many of this chunk's requests have a live version from such a chunk (then this
-- chunk must wait for that write before it decides, to copy the old version into its cancel row)
SELECT count() AS overlap
FROM request_keys
WHERE version >= {unwritten_from:UInt64}
    AND request_id IN (SELECT request_id FROM chunk_typed WHERE empty(reasons))

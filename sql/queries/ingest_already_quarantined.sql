-- name: ingest_already_quarantined
-- params: file_hash String, batch_id String
-- returns: already (UInt64): how many of the chunk's bad lines an earlier batch of the same file quarantined
-- (an interrupted run read again), counted as duplicates rather than quarantined twice; run before this
-- chunk's own quarantine rows are written
SELECT count() AS already
FROM quarantine FINAL
WHERE file_hash = {file_hash:String}
    AND batch_id != {batch_id:String}
    AND source_line IN (
        SELECT line_no FROM chunk_typed WHERE notEmpty(reasons)
        UNION ALL SELECT line_no FROM chunk_feedback WHERE notEmpty(reasons)
        UNION ALL SELECT line_no FROM chunk_rejects
    )

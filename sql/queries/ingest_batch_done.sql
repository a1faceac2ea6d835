-- name: ingest_batch_done
-- params: file_hash String
-- returns: the newest finished batch of a file with this content, if any
SELECT batch_id, source_file, rows_read, rows_loaded, rows_quarantined, rows_duplicate
FROM ingest_batches FINAL
WHERE file_hash = {file_hash:String} AND status = 'done'
ORDER BY updated_at DESC
LIMIT 1

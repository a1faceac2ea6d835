-- name: health_batches
-- params: limit UInt32
-- returns: the newest ingest batches: batch_id, source_file, format, status, started_at, updated_at, rows_read,
-- rows_loaded, rows_quarantined, rows_duplicate, message
SELECT batch_id, source_file, format, status, started_at, updated_at, rows_read, rows_loaded, rows_quarantined,
    rows_duplicate, message
FROM ingest_batches FINAL
ORDER BY started_at DESC
LIMIT {limit:UInt32}

-- name: ingest_batch_interrupted
-- params: file_hash String
-- returns: batches of this file left 'running' by a process that died
SELECT batch_id, source_file, file_hash, format, started_at
FROM ingest_batches FINAL
WHERE file_hash = {file_hash:String} AND status = 'running'

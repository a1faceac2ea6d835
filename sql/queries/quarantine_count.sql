-- name: quarantine_count
-- params: file_hash String
-- returns: quarantined (UInt64): the lines of one file (by content hash) in the quarantine
SELECT count() AS quarantined FROM quarantine FINAL WHERE file_hash = {file_hash:String}

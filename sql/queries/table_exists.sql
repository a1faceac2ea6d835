-- name: table_exists
-- params: name String
-- returns: present UInt64 (1 when the table exists in the current database)
SELECT count() AS present
FROM system.tables
WHERE database = currentDatabase() AND name = {name:String}

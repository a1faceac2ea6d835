-- name: migrations_applied
-- params: none
-- returns: version UInt32 (one row per applied migration)
SELECT DISTINCT version
FROM schema_migrations

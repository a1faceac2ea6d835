-- name: migrations_ledger
-- params: none
-- returns: nothing; creates the table that records applied schema migrations
-- shard key: version
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version UInt32,
    name String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY version

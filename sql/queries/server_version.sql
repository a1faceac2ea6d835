-- name: server_version
-- params: none
-- returns: version String (of the ClickHouse engine behind the store)
SELECT version() AS version

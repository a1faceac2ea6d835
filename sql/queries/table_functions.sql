-- name: table_functions
-- params: none
-- returns: name String: every table function the engine knows (routewatch.guard refuses those that reach outside the store)
SELECT name FROM system.table_functions

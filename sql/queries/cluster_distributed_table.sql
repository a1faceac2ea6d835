-- name: cluster_distributed_table
-- params: none; a template whose {table}, {cluster} and {sharding_key} routewatch.migrations fills (identifiers)
-- returns: nothing; the Distributed table over {table}_local on every node of the cluster
CREATE TABLE IF NOT EXISTS {table} ON CLUSTER `{cluster}` AS {table}_local
ENGINE = Distributed(`{cluster}`, currentDatabase(), {table}_local, {sharding_key})

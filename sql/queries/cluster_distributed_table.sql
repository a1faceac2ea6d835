-- name: cluster_distributed_table
-- params: none; routewatch.migrations fills the table, cluster and sharding_key slots (identifiers it checks, and
-- the sharding key of the table's schema)
-- slots: table, cluster, sharding_key
-- returns: nothing; the Distributed table over <table>_local on every node of the cluster
CREATE TABLE IF NOT EXISTS {{table}} ON CLUSTER `{{cluster}}` AS {{table}}_local
ENGINE = Distributed(`{{cluster}}`, currentDatabase(), {{table}}_local, {{sharding_key}})

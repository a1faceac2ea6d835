-- name: cluster_shards
-- params: those of the query in the query slot; the cluster slot holds the store's cluster name (allow-listed by
-- routewatch.migrations' rule for cluster names)
-- returns: the rows of the query in the query slot, run on one replica of every shard of the cluster over that
-- shard's own rows, one after the other (each shard's rows as it computed them; nothing merged)
-- slots: cluster, query
SELECT *
FROM cluster('{{cluster}}', view(
    {{query}}
))

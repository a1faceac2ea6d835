-- name: cluster_shard_live
-- params: none; a subquery that stands for requests_live in a query run on each shard of a cluster
-- returns: the live version of each request the shard holds (requests_live reads the Distributed table, which is
-- every shard's)
SELECT *, user_key FROM requests_local FINAL

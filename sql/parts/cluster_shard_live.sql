-- part: cluster_shard_live
-- params: none
-- returns: the live version of each request the shard holds (requests_live reads the Distributed table, which is
-- every shard's); it stands for requests_live in a query run on each shard of a cluster
(
    SELECT *, user_key FROM requests_local FINAL
)

-- name: compact_partition
-- params: none; the table and partition slots come from compact_candidates, checked by routewatch.maintenance
-- slots: table, partition
-- returns: nothing; merges one partition into a single part, so FINAL reads cost no more than plain reads
OPTIMIZE TABLE {{table}} PARTITION ID '{{partition}}' FINAL

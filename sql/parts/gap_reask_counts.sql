-- part: gap_reask_counts
-- params: none (its query's source is the part reask_requests)
-- returns: (added to each pair of gap_cells) n_reasked UInt64: requests re-asked (metrics.reask)
, countIf(reasked) AS n_reasked

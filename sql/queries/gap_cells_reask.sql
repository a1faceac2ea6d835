-- name: gap_cells_reask
-- params: none (fragments of gap_cells and gap_moments, whose reask_source slot then holds reask_requests)
-- The parts of gap_cells (and of gap_moments: the slot reask_more) that re-asks need, each under a "-- slot:" line
-- naming the slot it fills.
-- returns: (added to gap_cells) reasked UInt64 (requests re-asked, metrics.reask); gap_moments adds sq_reasked
-- and reasked_x_requests (their moments over users)
-- slot: reask_counts
, countIf(reasked) AS n_reasked
-- slot: reask_sums
, sum(n_reasked) AS reasked
-- slot: reask_more
, sum(reasked) AS reasked, sum(reasked * reasked) AS sq_reasked, sum(reasked * requests) AS reasked_x_requests

-- part: gap_reask_sums
-- params: none
-- returns: (added to gap_cells, its reask_sums slot) reasked UInt64: requests re-asked
, sum(n_reasked) AS reasked

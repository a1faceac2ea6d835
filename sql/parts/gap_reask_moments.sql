-- part: gap_reask_moments
-- params: none
-- returns: (added to gap_moments, its reask_moments slot) reasked UInt64 and its moments over users, sq_reasked
-- and reasked_x_requests
, sum(reasked) AS reasked, sum(reasked * reasked) AS sq_reasked, sum(reasked * requests) AS reasked_x_requests

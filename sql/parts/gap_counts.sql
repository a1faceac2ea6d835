-- part: gap_counts
-- params: none
-- returns: the counts of the binary gap metrics over a group of requests: n UInt64 (requests), n_escalated,
-- n_errors, n_known (requests whose outcome is known), n_resolved, n_rated (requests with a thumb) and n_thumbs_up,
-- each UInt64. Every gap query counts with these, so that each one counts alike.
-- count(column) counts its non-null values, sum of a Bool its trues: both cheaper than countIf
count() AS n,
sum(escalated) AS n_escalated,
countIf(status = 'error') AS n_errors,
count(resolved) AS n_known,
countIf(resolved) AS n_resolved,
count(thumb) AS n_rated,
countIf(thumb = 1) AS n_thumbs_up

-- name: gap_windows_current
-- params: first Date, last Date (the as-of days), metrics String (the metrics compared, comma-separated)
-- returns: as_of Date, days UInt16, router String, dimension String, data_version UInt64: the newest stored gap
-- table of each window and dimension whose as-of day is in the range (the writer recomputes those whose requests
-- have changed since)
SELECT as_of, days, router, dimension, argMax(data_version, computed_at) AS data_version
FROM gap_windows
WHERE as_of >= {first:Date} AND as_of <= {last:Date} AND metrics = {metrics:String}
GROUP BY as_of, days, router, dimension

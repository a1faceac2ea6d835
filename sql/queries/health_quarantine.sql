-- name: health_quarantine
-- params: samples UInt32 (rows kept per reason)
-- returns: reason String (the field and rule of a failure), rows UInt64, files UInt64, samples Array(Tuple(file
-- String, line UInt64, raw String)) (the first lines that failed for that reason)
SELECT
    reason,
    count() AS rows,
    uniqExact(source_file) AS files,
    arraySlice(groupArray((source_file, source_line, substring(raw, 1, 300))), 1, {samples:UInt32}) AS samples
FROM
(
    SELECT source_file, source_line, raw, arrayJoin(reasons) AS reason
    FROM quarantine FINAL
    ORDER BY source_file, source_line
)
GROUP BY reason
ORDER BY rows DESC

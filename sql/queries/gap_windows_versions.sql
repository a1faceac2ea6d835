-- name: gap_windows_versions
-- params: since DateTime64(3), until DateTime64(3)
-- returns: day Date, router String, requests UInt64 (live requests of that router that day; '' and 0 for a day with
-- request rows and none live), version UInt64 (the newest version of any request row of the day, every router: a
-- window's data_version is the largest over its days, as gap_windows_read compares it)
SELECT day, router, requests, version
FROM
(
    SELECT day, max(version) AS version
    FROM request_versions_daily
    WHERE day >= toDate({since:DateTime64(3)}) AND day < toDate({until:DateTime64(3)})
    GROUP BY day
) AS versions
LEFT JOIN
(
    SELECT toDate(ts) AS day, router, count() AS requests
    FROM requests_live
    WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    GROUP BY day, router
) AS served USING (day)
ORDER BY day, router

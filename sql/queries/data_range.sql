-- name: data_range
-- params: none
-- returns: first_day Date, last_day Date, requests Int64, routers Array(String) (the most recently seen first),
-- from rollup_daily
SELECT
    min(first_seen) AS first_day,
    max(last_seen) AS last_day,
    sum(n) AS requests,
    arrayMap(x -> x.2, arrayReverseSort(groupArray((last_seen, router)))) AS routers
FROM
(
    SELECT router, min(day) AS first_seen, max(day) AS last_seen, sum(requests) AS n
    FROM rollup_daily
    GROUP BY router
    HAVING sum(requests) > 0
)

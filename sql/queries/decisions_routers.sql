-- name: decisions_routers
-- params: until DateTime64(3)
-- returns: day Date, routers Array(String) (sorted): the router versions that served each day, so the CUSUM
-- can restart at a deploy
SELECT toDate(ts) AS day, arraySort(groupUniqArray(router)) AS routers
FROM requests_live
WHERE ts < {until:DateTime64(3)}
GROUP BY day
ORDER BY day

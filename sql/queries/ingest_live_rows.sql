-- name: ingest_live_rows
-- params: ids Array(String), since DateTime64(3), until DateTime64(3)
-- returns: every column of requests, for the live version of each id (to write its cancel row)
SELECT *
FROM requests FINAL
WHERE request_id IN {ids:Array(String)} AND ts BETWEEN {since:DateTime64(3)} AND {until:DateTime64(3)}

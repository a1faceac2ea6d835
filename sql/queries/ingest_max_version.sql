-- name: ingest_max_version
-- params: none
-- returns: version UInt64, the highest version any request or feedback event carries (0 in an empty store)
SELECT greatest((SELECT max(version) FROM request_keys), (SELECT max(version) FROM feedback)) AS version

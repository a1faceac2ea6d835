-- name: ingest_drop_text
-- params: none
-- returns: nothing; empties the session table chunk_text once its lines are numbered into chunk_lines, so that a
-- chunk in flight does not hold its text twice (ingest memory, issue 16)
TRUNCATE TABLE chunk_text

-- name: ingest_keep_rejected_lines
-- params: none (reads the session tables chunk_lines and chunk_rejects)
-- returns: nothing; once the chunk is parsed and validated, keeps the raw text of only the lines the
-- great-expectations suites rejected (for the quarantine; a line that failed parsing or typing carries its own in
-- chunk_typed) and empties chunk_lines, so that a chunk in flight does not hold every line's text until it writes
INSERT INTO chunk_rejected_lines
SELECT line_no, raw
FROM chunk_lines
WHERE line_no IN (SELECT line_no FROM chunk_rejects);
TRUNCATE TABLE chunk_lines

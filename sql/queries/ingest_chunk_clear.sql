-- name: ingest_chunk_clear
-- params: none
-- returns: nothing; empties the session-local tables of ingest_session, before a chunk (a session is reused from chunk
-- to chunk, and one that failed may have left rows) and after it (an idle session would hold the chunk's rows).
TRUNCATE TABLE chunk_text;
TRUNCATE TABLE chunk_lines;
TRUNCATE TABLE chunk_typed;
TRUNCATE TABLE chunk_feedback;
TRUNCATE TABLE chunk_rejects;
TRUNCATE TABLE chunk_rejected_lines;
TRUNCATE TABLE chunk_decided

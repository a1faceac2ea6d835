-- name: ingest_number_lines
-- params: first_line UInt64, numbered Bool
-- returns: nothing; numbers the lines of chunk_text (as the client sent them, in order) into chunk_lines and
-- drops the blank ones. A JSONL line is numbered by its place in the file, counted from `first_line`; a CSV or
-- Parquet row carries its number in the field __line (`numbered`). One thread, so the numbering follows the order
-- in which the lines were stored; the filter sits outside, so blank lines are counted before they are dropped.
INSERT INTO chunk_lines
SELECT line_no, raw
FROM
(
    SELECT
        if({numbered:Bool}, JSONExtractUInt(line, '__line'), {first_line:UInt64} + rowNumberInAllBlocks()) AS line_no,
        trimRight(line, '\r') AS raw
    FROM chunk_text
)
WHERE startsWith(raw, '{') OR match(raw, '[^ \\t\\n\\r\\x0b\\x0c]')  -- the regular expression only for the odd line
SETTINGS max_threads = 1

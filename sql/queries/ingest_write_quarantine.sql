-- name: ingest_write_quarantine
-- params: file_hash String, source_file String, batch_id String
-- returns: nothing; every line of the chunk (requests or feedback) that failed parsing, typing or the
-- great-expectations suite, with every reason
INSERT INTO quarantine
SELECT
    {file_hash:String},
    t.line_no,
    {source_file:String},
    {batch_id:String},
    if(empty(t.raw), l.raw, t.raw),
    -- a value of the wrong type is reported once, not again as "required"
    arrayConcat(t.reasons, arrayFilter(
        reason -> NOT (endsWith(reason, ': required')
            AND has(arrayMap(known -> splitByChar(':', known)[1], t.reasons), splitByChar(':', reason)[1])),
        r.reasons)),
    now64(3, 'UTC')
FROM
(
    SELECT line_no, raw, reasons FROM chunk_typed
    UNION ALL
    SELECT line_no, raw, reasons FROM chunk_feedback
) AS t
LEFT JOIN chunk_rejects AS r ON t.line_no = r.line_no
LEFT JOIN chunk_rejected_lines AS l ON t.line_no = l.line_no
WHERE notEmpty(t.reasons) OR notEmpty(r.reasons)

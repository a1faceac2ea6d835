-- name: quarantine_sample
-- params: none
-- returns: source_file String, source_line UInt64, reasons Array(String): the first quarantined rows, for a person
SELECT source_file, source_line, reasons FROM quarantine FINAL LIMIT 20

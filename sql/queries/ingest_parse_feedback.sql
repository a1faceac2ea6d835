-- name: ingest_parse_feedback
-- params: none (reads the session table chunk_lines)
-- returns: nothing; parses feedback events {request_id, ts, kind, value} into chunk_feedback
INSERT INTO chunk_feedback
SELECT
    line_no,
    f.request_id AS request_id,
    ts_ms AS ts,
    f.kind AS kind,
    value_v AS value,
    cityHash64(tuple(request_id, ts, kind, value)) AS row_hash,
    if(isNotNull(f.__raw), f.__raw, if(empty(reasons), '', raw)) AS raw,
    object_ok AND isNull(f.__error) AS parsed,
    reasons
FROM
(
    SELECT
        line_no,
        raw,
        isValidUTF8(raw) AS utf8_ok,
        utf8_ok AND isValidJSON(raw) AS json_ok,
        json_ok AND JSONType(raw) = 'Object' AS object_ok,
        JSONExtract(
            if(object_ok, raw, '{}'),
            'Tuple(request_id Nullable(String), ts Nullable(String), kind Nullable(String), value Nullable(String),
                __raw Nullable(String), __error Nullable(String))'
        ) AS f,
        multiIf(lower(f.value) = 'true', 1., lower(f.value) = 'false', 0., toFloat64OrNull(f.value)) AS value_v,
        toFloat64OrNull(f.ts) AS ts_number,
        match(coalesce(f.ts, ''), '(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$') AS ts_has_offset,
        multiIf(
            ts_number IS NOT NULL AND isFinite(ts_number) AND abs(ts_number) < 1e15,
                toInt64(round(if(ts_number >= 1e11, ts_number, ts_number * 1000))),
            ts_has_offset, toUnixTimestamp64Milli(parseDateTime64BestEffortOrNull(f.ts, 3, 'UTC')),
            NULL
        ) AS ts_ms,
        arrayFilter(reason -> reason != '', [
            if(isNotNull(f.__error), f.__error, ''),
            if(NOT utf8_ok, 'invalid UTF-8', ''),
            if(utf8_ok AND NOT json_ok, 'malformed JSON', ''),
            if(json_ok AND NOT object_ok, concat('expected a JSON object, got ', lower(toString(JSONType(raw)))), ''),
            if(isNotNull(f.ts) AND ts_ms IS NULL,
                if(ts_number IS NULL AND NOT ts_has_offset,
                    concat('ts: timestamp ''', substring(f.ts, 1, 40), ''' has no UTC offset (add Z or +00:00)'),
                    concat('ts: not an ISO 8601 timestamp: ''', substring(f.ts, 1, 40), '''')), ''),
            if(isNotNull(f.value) AND (value_v IS NULL OR NOT isFinite(value_v)), concat('value: expected a number, got ', substring(f.value, 1, 40)), '')
        ]) AS reasons
    FROM chunk_lines
)

-- Functions the ingest parse queries share (sql/queries/ingest_parse*.sql). Each takes the text of one JSON
-- value (NULL when the field is missing or null) and types it, or says why it cannot.

-- A timestamp: epoch seconds or milliseconds, or ISO 8601 with a UTC offset; NULL when it is neither.
CREATE FUNCTION IF NOT EXISTS routewatch_epoch_ms AS (text) -> multiIf(
    isFinite(coalesce(toFloat64OrNull(text), nan)) AND abs(toFloat64OrNull(text)) < 1e15,
        toInt64(round(if(toFloat64OrNull(text) >= 1e11, toFloat64OrNull(text), toFloat64OrNull(text) * 1000))),
    match(coalesce(text, ''), '(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$'),
        toUnixTimestamp64Milli(parseDateTime64BestEffortOrNull(text, 3, 'UTC')),
    NULL
);

CREATE FUNCTION IF NOT EXISTS routewatch_ts_error AS (text) -> multiIf(
    isNull(text) OR isNotNull(routewatch_epoch_ms(text)), '',
    isNull(toFloat64OrNull(text)) AND NOT match(text, '(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$'),
        concat('ts: timestamp ''', substring(text, 1, 40), ''' has no UTC offset (add Z or +00:00)'),
    concat('ts: not an ISO 8601 timestamp: ''', substring(text, 1, 40), '''')
);

-- Why a whole line is not a JSON object ('' when it is).
CREATE FUNCTION IF NOT EXISTS routewatch_line_error AS (raw) -> multiIf(
    NOT isValidUTF8(raw), 'invalid UTF-8',
    NOT isValidJSON(raw), 'malformed JSON',
    JSONType(raw) != 'Object', concat('expected a JSON object, got ', lower(toString(JSONType(raw)))),
    ''
);

CREATE FUNCTION IF NOT EXISTS routewatch_number_error AS (name, text) -> if(
    isNotNull(text) AND NOT isFinite(coalesce(toFloat64OrNull(text), nan)),
    concat(name, ': expected a number, got ', substring(text, 1, 40)), ''
);

CREATE FUNCTION IF NOT EXISTS routewatch_whole AS (text) -> if(
    toFloat64OrNull(text) = floor(toFloat64OrNull(text)) AND abs(toFloat64OrNull(text)) < 1e15,
    toInt64(toFloat64OrNull(text)), NULL
);

CREATE FUNCTION IF NOT EXISTS routewatch_whole_error AS (name, text) -> if(
    isNotNull(text) AND isNull(routewatch_whole(text)),
    concat(name, ': expected a whole number, got ', substring(text, 1, 40)), ''
);

CREATE FUNCTION IF NOT EXISTS routewatch_bool AS (text) -> multiIf(
    lower(text) IN ('true', '1'), true, lower(text) IN ('false', '0'), false, NULL
);

CREATE FUNCTION IF NOT EXISTS routewatch_bool_error AS (name, text) -> if(
    isNotNull(text) AND isNull(routewatch_bool(text)),
    concat(name, ': expected true/false or 0/1, got ', substring(text, 1, 40)), ''
);

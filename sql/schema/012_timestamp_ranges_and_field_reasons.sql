-- A timestamp's parts must be in range: 009 handed an ISO 8601 text to the engine's best-effort parser, which rolls
-- an hour of 25 over to the next day (2026-11-20T25:00:00Z loaded as 2026-11-21T01:00:00). Every part of the text as
-- given is checked (month 1-12, day within its month, Feb 29 only in a leap year, hour 0-23, minute and second
-- 0-59, an offset's hours 0-23 and minutes 0-59), and the reason names the part and its value as given.
-- A line's reason names its field where it can: invalid UTF-8 (the field and the byte offset), a number too large
-- for a double (its key), and text with a control character (the field, its value JSON-escaped).

-- The parts of an ISO 8601 timestamp with a UTC offset (the shape of routewatch_iso_offset): year, month, day, hour,
-- minute, second, offset hours, offset minutes ('' for a part not given); all '' for another shape.
CREATE OR REPLACE FUNCTION routewatch_iso_parts AS (text) -> extractGroups(
    coalesce(text, ''),
    '^([0-9]{4})-?([0-9]{2})-?([0-9]{2})[Tt ]([0-9]{2})(?::?([0-9]{2})(?::?([0-9]{2})(?:[.,][0-9]+)?)?)? ?(?:[Zz]|[+-]([0-9]{2})(?::?([0-9]{2}))?)$'
);

CREATE OR REPLACE FUNCTION routewatch_days_in_month AS (year, month) -> multiIf(
    month = 2, if((year % 4 = 0 AND year % 100 != 0) OR year % 400 = 0, 29, 28),
    month IN (4, 6, 9, 11), 30,
    31
);

-- Why the parts of an ISO 8601 timestamp are out of range ('' when they are not, or the text has another shape).
CREATE OR REPLACE FUNCTION routewatch_iso_range_error AS (parts) -> multiIf(
    parts[1] = '', '',
    toUInt16(parts[2]) NOT BETWEEN 1 AND 12, concat('month ', parts[2], ' is out of range (01 to 12)'),
    toUInt16(parts[3]) NOT BETWEEN 1 AND routewatch_days_in_month(toUInt16(parts[1]), toUInt16(parts[2])),
        concat('day ', parts[3], ' is out of range (',
            ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October',
                'November', 'December'][toUInt16(parts[2])],
            ' ', parts[1], ' has ', toString(routewatch_days_in_month(toUInt16(parts[1]), toUInt16(parts[2]))),
            ' days)'),
    toUInt16(parts[4]) > 23, concat('hour ', parts[4], ' is out of range (00 to 23)'),
    parts[5] != '' AND toUInt16(parts[5]) > 59, concat('minute ', parts[5], ' is out of range (00 to 59)'),
    parts[6] != '' AND toUInt16(parts[6]) > 59, concat('second ', parts[6], ' is out of range (00 to 59)'),
    parts[7] != '' AND toUInt16(parts[7]) > 23, concat('offset hour ', parts[7], ' is out of range (00 to 23)'),
    parts[8] != '' AND toUInt16(parts[8]) > 59, concat('offset minute ', parts[8], ' is out of range (00 to 59)'),
    ''
);

-- A timestamp: epoch seconds or milliseconds, or ISO 8601 with a UTC offset and every part in range; NULL otherwise.
CREATE OR REPLACE FUNCTION routewatch_epoch_ms AS (text) -> multiIf(
    isFinite(coalesce(toFloat64OrNull(text), nan)) AND abs(toFloat64OrNull(text)) < 1e15,
        toInt64(round(if(toFloat64OrNull(text) >= 1e11, toFloat64OrNull(text), toFloat64OrNull(text) * 1000))),
    routewatch_iso_offset(text) AND routewatch_iso_range_error(routewatch_iso_parts(text)) = '',
        toUnixTimestamp64Milli(parseDateTime64BestEffortOrNull(text, 3, 'UTC')),
    NULL
);

CREATE OR REPLACE FUNCTION routewatch_ts_error AS (text) -> multiIf(
    isNull(text) OR isNotNull(routewatch_epoch_ms(text)), '',
    match(text, '^[0-9]{4}-?[0-9]{2}-?[0-9]{2}$'),
        concat('ts: timestamp ''', substring(text, 1, 40), ''' is a date without a time of day and a UTC offset ',
            '(write e.g. ', substring(text, 1, 40), 'T00:00:00Z)'),
    match(text, '^[0-9]{4}-?[0-9]{2}-?[0-9]{2}[Tt ][0-9]{2}(:?[0-9]{2}(:?[0-9]{2}([.,][0-9]+)?)?)?$'),
        concat('ts: timestamp ''', substring(text, 1, 40), ''' has no UTC offset (add Z or +00:00)'),
    routewatch_iso_range_error(routewatch_iso_parts(text)) != '',
        concat('ts: timestamp ''', substring(text, 1, 40), ''': ', routewatch_iso_range_error(routewatch_iso_parts(text))),
    routewatch_iso_offset(text),
        concat('ts: not an ISO 8601 timestamp: ''', substring(text, 1, 40), ''''),
    concat('ts: timestamp ''', substring(text, 1, 40),
        ''' is neither ISO 8601 with a UTC offset nor epoch seconds or milliseconds')
);

-- Why a dimension's text cannot be a label: a control character (C0, DEL or C1; a tab and a line break included)
-- prints badly in tables, CSV and email subjects. '' when the text has none.
CREATE OR REPLACE FUNCTION routewatch_control_error AS (name, text) -> if(
    match(coalesce(text, ''), '\\p{Cc}'),
    concat(name, ': ', substring(toJSONString(text), 1, 60), ' holds a control character (a tab, line break, NUL, ...)'),
    ''
);

-- Where a line's invalid UTF-8 is: its 1-based byte offset, and the field (segments.<key> inside segments) whose
-- value holds it when the rest of the line is JSON.
CREATE OR REPLACE FUNCTION routewatch_utf8_error AS (raw) -> concat(
    arrayFirst(
        kv -> position(kv.1, '\xEF\xBF\xBD') > 0 OR position(kv.2, '\xEF\xBF\xBD') > 0,
        arrayMap(kv -> (if(kv.1 = 'segments', concat('segments', if(empty(arrayFirst(
                s -> position(s.2, '\xEF\xBF\xBD') > 0, JSONExtractKeysAndValuesRaw(kv.2)).1 AS key), '', '.'), key),
                kv.1), kv.2),
            JSONExtractKeysAndValuesRaw(if(isValidJSON(toValidUTF8(raw)), toValidUTF8(raw), '{}')))
    ).1 AS field,
    if(field = '', '', ': '),
    'invalid UTF-8 at byte ', toString(position(toValidUTF8(raw), '\xEF\xBF\xBD')), ' of the line'
);

-- Why a line is not valid JSON: a number too large for a double names its key; anything else is malformed JSON.
CREATE OR REPLACE FUNCTION routewatch_json_error AS (raw) -> if(
    notEmpty(arrayFirst(g -> isInfinite(coalesce(toFloat64OrNull(g[2]), 0)),
        extractAllGroupsVertical(raw, '"((?:[^"\\\\]|\\\\.)*)"\\s*:\\s*(-?[0-9][0-9.eE+-]*)')) AS found),
    concat(found[1], ': ', substring(found[2], 1, 40), ' is too large for a number (at most about 1.8e308)'),
    'malformed JSON'
);

-- Why a whole line is not a JSON object ('' when it is).
CREATE OR REPLACE FUNCTION routewatch_line_error AS (raw) -> multiIf(
    NOT isValidUTF8(raw), routewatch_utf8_error(raw),
    NOT isValidJSON(raw), routewatch_json_error(raw),
    JSONType(raw) != 'Object', concat('expected a JSON object, got ', lower(toString(JSONType(raw)))),
    ''
);

-- Stricter typing for the parse functions of 002 (replaced in place; the ingest parse queries call them by name).
-- A timestamp's offset must follow a time of day: 002 took the -20 of a bare date 2026-11-20 for an offset and
-- loaded the date as UTC midnight. A whole number too large to store exactly says so instead of "expected a
-- whole number", and every message shows the value as it was given.

-- ISO 8601 (RFC 3339 shape): a date, a time of day, then Z or an offset +HH, +HHMM or +HH:MM.
CREATE OR REPLACE FUNCTION routewatch_iso_offset AS (text) -> match(
    coalesce(text, ''),
    '^[0-9]{4}-?[0-9]{2}-?[0-9]{2}[Tt ][0-9]{2}(:?[0-9]{2}(:?[0-9]{2}([.,][0-9]+)?)?)? ?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)$'
);

-- A timestamp: epoch seconds or milliseconds, or ISO 8601 with a UTC offset; NULL when it is neither.
CREATE OR REPLACE FUNCTION routewatch_epoch_ms AS (text) -> multiIf(
    isFinite(coalesce(toFloat64OrNull(text), nan)) AND abs(toFloat64OrNull(text)) < 1e15,
        toInt64(round(if(toFloat64OrNull(text) >= 1e11, toFloat64OrNull(text), toFloat64OrNull(text) * 1000))),
    routewatch_iso_offset(text),
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
    routewatch_iso_offset(text),
        concat('ts: not an ISO 8601 timestamp: ''', substring(text, 1, 40), ''''),
    concat('ts: timestamp ''', substring(text, 1, 40),
        ''' is neither ISO 8601 with a UTC offset nor epoch seconds or milliseconds')
);

CREATE OR REPLACE FUNCTION routewatch_whole_error AS (name, text) -> multiIf(
    isNull(text) OR isNotNull(routewatch_whole(text)), '',
    isFinite(coalesce(toFloat64OrNull(text), nan)) AND abs(toFloat64OrNull(text)) >= 1e15,
        concat(name, ': ', substring(text, 1, 40), ' is too large (at most 999999999999999)'),
    concat(name, ': expected a whole number, got ', substring(text, 1, 40))
);

-- Text that looks the same groups the same: Unicode NFC. Invalid UTF-8 is left as it is (its line is rejected);
-- the normalizer never sees it (`if` evaluates both branches, and normalizeUTF8NFC throws on invalid UTF-8).
CREATE OR REPLACE FUNCTION routewatch_nfc AS (text) -> if(
    isValidUTF8(coalesce(text, '')), normalizeUTF8NFC(if(isValidUTF8(coalesce(text, '')), text, '')), text
);

-- A segments key that can be a dimension (segments.<key> in metrics, gaps and the dashboard; the same rule as
-- metrics.dimensions.segment_key_ok): 1 to 64 letters, marks, digits, spaces or _ . : -.
CREATE OR REPLACE FUNCTION routewatch_segment_key_ok AS (key) -> match(key, '^[\\p{L}\\p{M}\\p{N}_.: -]{1,64}$');

-- The same timestamp function as 012, giving the same value for every text, faster: ingest_parse types every
-- line's ts with it, and reading the parts of an ISO 8601 timestamp by a regular expression's groups
-- (routewatch_iso_parts) cost about 14 microseconds a line, some 40 % of the parse (BENCHMARKS.md, "Timestamps read
-- by their positions").

-- Whether the parts of an ISO 8601 timestamp are in range, as routewatch_iso_range_error(routewatch_iso_parts(text))
-- = '' (true too for a text of another shape): the extended form that nearly every log writes
-- (2026-11-20T10:00:00.123Z, -05:30) is read by its fixed positions, any other form by the groups.
CREATE OR REPLACE FUNCTION routewatch_iso_in_range AS (text) -> if(
    match(
        coalesce(text, ''),
        '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})$'
    ),
    toUInt8(substring(text, 6, 2)) BETWEEN 1 AND 12
        AND toUInt8(substring(text, 9, 2))
            BETWEEN 1 AND routewatch_days_in_month(toUInt16(substring(text, 1, 4)), toUInt8(substring(text, 6, 2)))
        AND toUInt8(substring(text, 12, 2)) <= 23
        AND toUInt8(substring(text, 15, 2)) <= 59
        AND toUInt8(substring(text, 18, 2)) <= 59
        AND (endsWith(text, 'Z') OR endsWith(text, 'z')
            OR (toUInt8(substring(text, -5, 2)) <= 23 AND toUInt8(substring(text, -2, 2)) <= 59)),
    routewatch_iso_range_error(routewatch_iso_parts(text)) = ''
);

-- A timestamp: epoch seconds or milliseconds, or ISO 8601 with a UTC offset and every part in range; NULL otherwise.
CREATE OR REPLACE FUNCTION routewatch_epoch_ms AS (text) -> multiIf(
    isFinite(coalesce(toFloat64OrNull(text), nan)) AND abs(toFloat64OrNull(text)) < 1e15,
        toInt64(round(if(toFloat64OrNull(text) >= 1e11, toFloat64OrNull(text), toFloat64OrNull(text) * 1000))),
    routewatch_iso_offset(text) AND routewatch_iso_in_range(text),
        toUnixTimestamp64Milli(parseDateTime64BestEffortOrNull(text, 3, 'UTC')),
    NULL
);

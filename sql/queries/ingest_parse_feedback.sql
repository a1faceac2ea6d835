-- name: ingest_parse_feedback
-- params: whole_kinds Array(String), bool_kinds Array(String): the feedback kinds whose value is a whole number
-- or a boolean, as the request field it sets (ingest.contract.FEEDBACK_VALUES); kinds Array(String), takes
-- Array(String): what a value of each kind takes, for the reason; reads the session table chunk_lines
-- returns: nothing; parses feedback events {request_id, ts, kind, value} into chunk_feedback
-- (the routewatch_* functions are in sql/schema/002_parse_functions.sql and 009_strict_parse_functions.sql)
INSERT INTO chunk_feedback
SELECT
    line_no,
    f.request_id AS request_id,
    routewatch_epoch_ms(f.ts) AS ts,
    f.ts AS ts_given,  -- the text as given, for a reason about it
    f.kind AS kind,
    multiIf(lower(f.value) = 'true', 1., lower(f.value) = 'false', 0., toFloat64OrNull(f.value)) AS value,
    cityHash64(tuple(request_id, ts, kind, value)) AS row_hash,
    if(line_error = '' AND isNotNull(f.__raw), f.__raw, if(empty(reasons), '', raw)) AS raw,
    line_error = '' AND isNull(f.__error) AS parsed,
    if(line_error != '', [line_error], arrayFilter(reason -> reason != '', [
        coalesce(f.__error, ''),
        routewatch_ts_error(f.ts),
        -- a value of the wrong type also says what its kind takes
        if(
            multiIf(
                has({whole_kinds:Array(String)}, coalesce(f.kind, '')), routewatch_whole_error('value', f.value),
                has({bool_kinds:Array(String)}, coalesce(f.kind, '')), routewatch_bool_error('value', f.value),
                lower(coalesce(f.value, '')) IN ('true', 'false'), '',
                routewatch_number_error('value', f.value)
            ) AS type_error = '' OR NOT has({kinds:Array(String)}, coalesce(f.kind, '')),
            type_error,
            concat(type_error, ' (a ', f.kind, ' event takes ', {takes:Array(String)}[indexOf({kinds:Array(String)}, f.kind)], ')')
        )
    ])) AS reasons
FROM
(
    SELECT
        line_no,
        raw,
        if(JSONType(raw) = 'Object', '', routewatch_line_error(raw)) AS line_error,  -- one parse for a good line
        JSONExtract(
            raw,
            'Tuple(request_id Nullable(String), ts Nullable(String), kind Nullable(String), value Nullable(String),
                __raw Nullable(String), __error Nullable(String))'
        ) AS f
    FROM chunk_lines
)

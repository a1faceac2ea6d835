-- name: ingest_parse
-- params: none (reads the session table chunk_lines)
-- returns: nothing; parses and types every line of chunk_lines into chunk_typed with its parse and type errors.
-- Each line is parsed once: JSONExtract into a tuple of Nullable(String) keeps every value's text (numbers,
-- booleans, objects and arrays as JSON text; null and missing as NULL), and the typing below works on text
-- with the routewatch_* functions of sql/schema/002_parse_functions.sql (and 009, 012). The hidden fields __raw and __error
-- carry the raw text and read error of CSV and Parquet rows, which the client converts to JSON lines. A line
-- that is not a JSON object is extracted too (cheaper than copying the column to blank it out) but only its
-- line error counts: the fields of a JSON array would fill the tuple by position.
INSERT INTO chunk_typed
SELECT
    line_no,
    f.request_id AS request_id,
    routewatch_epoch_ms(f.ts) AS ts,
    f.ts AS ts_given,  -- the text as given, for a reason about it
    f.user_id AS user_id,
    coalesce(f.account_id, '') AS account_id,
    coalesce(f.session_id, '') AS session_id,
    if(empty(coalesce(f.language, '')), 'unknown', routewatch_nfc(f.language)) AS language,
    if(empty(coalesce(f.channel, '')), 'unknown', routewatch_nfc(f.channel)) AS channel,
    routewatch_nfc(coalesce(f.tier, '')) AS tier,
    routewatch_nfc(coalesce(f.region, '')) AS region,
    -- a null value is a missing key; a number or a boolean is its canonical text (1.0 -> '1', true -> 'true')
    mapFromArrays(arrayMap(kv -> kv.1, segment_texts), arrayMap(kv -> kv.2, segment_texts)) AS segments,
    routewatch_nfc(coalesce(f.task_type, '')) AS task_type,
    routewatch_nfc(coalesce(f.router, '')) AS router,
    toFloat64OrNull(f.router_score) AS router_score,
    routewatch_nfc(f.route) AS route,
    if(empty(coalesce(f.final_route, '')), route, routewatch_nfc(f.final_route)) AS final_route,
    routewatch_nfc(f.model) AS model,
    routewatch_bool(f.escalated) AS escalated,
    coalesce(f.escalation_reason, '') AS escalation_reason,
    coalesce(routewatch_whole(f.attempts), 1) AS attempts,
    coalesce(routewatch_whole(f.retries), 0) AS retries,
    coalesce(routewatch_whole(f.input_tokens), 0) AS input_tokens,
    coalesce(routewatch_whole(f.output_tokens), 0) AS output_tokens,
    toFloat64OrNull(f.cost_usd) AS cost_usd,
    coalesce(toFloat64OrNull(f.router_cost_usd), 0) AS router_cost_usd,
    coalesce(toFloat64OrNull(f.human_cost_usd), 0) AS human_cost_usd,
    if(empty(coalesce(f.cost_source, '')), 'reported', f.cost_source) AS cost_source,
    toFloat64OrNull(f.latency_ms) AS latency_ms,
    toFloat64OrNull(f.ttft_ms) AS ttft_ms,
    toFloat64OrNull(f.router_latency_ms) AS router_latency_ms,
    if(empty(coalesce(f.status, '')), 'ok', f.status) AS status,
    routewatch_nfc(coalesce(f.error_type, '')) AS error_type,
    routewatch_bool(f.resolved) AS resolved,
    routewatch_whole(f.thumb) AS thumb,
    routewatch_whole(f.csat) AS csat,
    routewatch_nfc(coalesce(f.shadow_route, '')) AS shadow_route,
    -- each call typed like the request: (model, route, input_tokens, output_tokens, cost_usd, latency_ms, status, error_type)
    arrayMap(t -> tuple(coalesce(t.1, ''), coalesce(t.2, ''), toFloat64OrNull(t.3), toFloat64OrNull(t.4),
        toFloat64OrNull(t.5), toFloat64OrNull(t.6), if(empty(coalesce(t.7, '')), 'ok', t.7), coalesce(t.8, '')),
        call_texts) AS calls,
    {{> ingest_row_hash}}
    if(line_error = '' AND isNotNull(f.__raw), f.__raw, if(empty(reasons), '', raw)) AS raw,
    line_error = '' AND isNull(f.__error) AS parsed,
    if(line_error != '', [line_error], arrayFilter(reason -> reason != '', [
        coalesce(f.__error, ''),
        routewatch_ts_error(f.ts),
        routewatch_number_error('router_score', f.router_score),
        routewatch_number_error('cost_usd', f.cost_usd),
        if(cost_source = 'unpriced' AND isNotNull(f.cost_usd),
            concat('cost_source: unpriced, yet cost_usd is given (', f.cost_usd, ')'), ''),
        routewatch_number_error('router_cost_usd', f.router_cost_usd),
        routewatch_number_error('human_cost_usd', f.human_cost_usd),
        routewatch_number_error('latency_ms', f.latency_ms),
        routewatch_number_error('ttft_ms', f.ttft_ms),
        routewatch_number_error('router_latency_ms', f.router_latency_ms),
        routewatch_whole_error('attempts', f.attempts),
        routewatch_whole_error('retries', f.retries),
        routewatch_whole_error('input_tokens', f.input_tokens),
        routewatch_whole_error('output_tokens', f.output_tokens),
        -- a thumb or a CSAT that is not a whole number also says what it takes (as the feedback event's reason)
        if(routewatch_whole_error('thumb', f.thumb) AS thumb_error = '', '', concat(thumb_error, ' (a thumb takes one of [-1, 1])')),
        if(routewatch_whole_error('csat', f.csat) AS csat_error = '', '', concat(csat_error, ' (a csat takes a whole number in [1, 5])')),
        routewatch_bool_error('escalated', f.escalated),
        routewatch_bool_error('resolved', f.resolved),
        routewatch_control_error('language', f.language),
        routewatch_control_error('channel', f.channel),
        routewatch_control_error('tier', f.tier),
        routewatch_control_error('region', f.region),
        routewatch_control_error('task_type', f.task_type),
        routewatch_control_error('router', f.router),
        routewatch_control_error('route', f.route),
        routewatch_control_error('final_route', f.final_route),
        routewatch_control_error('model', f.model),
        routewatch_control_error('error_type', f.error_type),
        routewatch_control_error('shadow_route', f.shadow_route),
        if(isNotNull(f.segments) AND NOT segments_ok, 'segments: expected an object of strings', ''),
        arrayStringConcat(arrayFilter(reason -> reason != '', arrayMap(kv -> multiIf(
            NOT routewatch_segment_key_ok(kv.1),
                concat('segments: key ''', substring(kv.1, 1, 80), ''' cannot be a dimension (1 to 64 letters, ',
                    'marks, digits, spaces or _ . : -)'),
            JSONType(kv.2) IN ('Object', 'Array'),
                concat('segments: the value of ''', kv.1, ''' is an ', lower(toString(JSONType(kv.2))),
                    ', expected text, a number or true/false: ', substring(kv.2, 1, 40)),
            JSONType(kv.2) = 'String', routewatch_control_error(concat('segments.', kv.1), JSONExtractString(kv.2)),
            ''), segment_pairs)), '; '),
        if(calls_ok AND notEmpty(call_texts) AND toFloat64OrNull(f.cost_usd) < call_cost - 1e-9 * length(call_texts) - 1e-12,
            concat('cost_usd: ', f.cost_usd, ' is below the sum of its calls'' cost_usd, ',
                toString(toDecimal128(round(call_cost, 9), 9)), ' (the request''s spend covers every call)'), ''),
        if(calls_ok, '', 'calls: expected a list of objects'),
        if(arrayExists(t -> routewatch_number_error('', t.3) || routewatch_number_error('', t.4)
            || routewatch_number_error('', t.5) || routewatch_number_error('', t.6) != '', call_texts),
            'calls: a number field of a call holds something else', '')
    ])) AS reasons
FROM
(
    SELECT
        line_no,
        raw,
        if(JSONType(raw) = 'Object', '', routewatch_line_error(raw)) AS line_error,  -- one parse for a good line
        JSONExtract(
            raw,
            'Tuple(request_id Nullable(String), ts Nullable(String), user_id Nullable(String),
                account_id Nullable(String), session_id Nullable(String), language Nullable(String),
                channel Nullable(String), tier Nullable(String), region Nullable(String),
                segments Nullable(String), task_type Nullable(String), router Nullable(String),
                router_score Nullable(String), route Nullable(String), final_route Nullable(String),
                model Nullable(String), escalated Nullable(String), escalation_reason Nullable(String),
                attempts Nullable(String), retries Nullable(String), input_tokens Nullable(String),
                output_tokens Nullable(String), cost_usd Nullable(String), router_cost_usd Nullable(String),
                human_cost_usd Nullable(String), cost_source Nullable(String), latency_ms Nullable(String),
                ttft_ms Nullable(String),
                router_latency_ms Nullable(String), status Nullable(String), error_type Nullable(String),
                resolved Nullable(String), thumb Nullable(String), csat Nullable(String),
                shadow_route Nullable(String), calls Nullable(String),
                __raw Nullable(String), __error Nullable(String))'
        ) AS f,
        isValidJSON(coalesce(f.segments, '{}')) AND JSONType(coalesce(f.segments, '{}')) = 'Object' AS segments_ok,
        arrayMap(kv -> (routewatch_nfc(kv.1), kv.2),
            JSONExtractKeysAndValuesRaw(if(segments_ok, coalesce(f.segments, '{}'), '{}'))) AS segment_pairs,
        arrayMap(kv -> (kv.1, multiIf(
                JSONType(kv.2) = 'String', routewatch_nfc(JSONExtractString(kv.2)),
                JSONType(kv.2) = 'Bool', if(JSONExtractBool(kv.2), 'true', 'false'),
                JSONType(kv.2) IN ('Int64', 'UInt64'), kv.2,
                JSONType(kv.2) = 'Double', toString(JSONExtractFloat(kv.2)),
                kv.2)),
            arrayFilter(kv -> JSONType(kv.2) != 'Null', segment_pairs)) AS segment_texts,
        isValidJSON(coalesce(f.calls, '[]')) AND JSONType(coalesce(f.calls, '[]')) = 'Array'
            AND arrayAll(c -> JSONType(c) = 'Object', JSONExtractArrayRaw(coalesce(f.calls, '[]'))) AS calls_ok,
        arrayMap(
            c -> JSONExtract(c, 'Tuple(model Nullable(String), route Nullable(String), input_tokens Nullable(String),
                output_tokens Nullable(String), cost_usd Nullable(String), latency_ms Nullable(String),
                status Nullable(String), error_type Nullable(String))'),
            if(calls_ok, JSONExtractArrayRaw(coalesce(f.calls, '[]')), [])
        ) AS call_texts,
        arraySum(arrayMap(t -> coalesce(toFloat64OrNull(t.5), 0), call_texts)) AS call_cost
    FROM chunk_lines
)

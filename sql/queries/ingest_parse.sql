-- name: ingest_parse
-- params: none (reads the session table chunk_lines)
-- returns: nothing; parses and types every line of chunk_lines into chunk_typed with its parse and type errors.
-- Each line is parsed once: JSONExtract into a tuple of Nullable(String) keeps every value's text (numbers,
-- booleans, objects and arrays as JSON text; null and missing as NULL), and the typing below works on text.
-- The hidden fields __raw and __error carry the raw text and parse error of CSV and Parquet rows, which the
-- client converts to JSON lines.
INSERT INTO chunk_typed
SELECT
    line_no,
    f.request_id AS request_id,
    ts_ms AS ts,
    f.user_id AS user_id,
    coalesce(f.account_id, '') AS account_id,
    coalesce(f.session_id, '') AS session_id,
    if(empty(coalesce(f.language, '')), 'unknown', f.language) AS language,
    if(empty(coalesce(f.channel, '')), 'unknown', f.channel) AS channel,
    coalesce(f.tier, '') AS tier,
    coalesce(f.region, '') AS region,
    segments_map AS segments,
    coalesce(f.task_type, '') AS task_type,
    coalesce(f.router, '') AS router,
    router_score_v AS router_score,
    f.route AS route,
    if(empty(coalesce(f.final_route, '')), f.route, f.final_route) AS final_route,
    f.model AS model,
    escalated_v AS escalated,
    coalesce(f.escalation_reason, '') AS escalation_reason,
    coalesce(attempts_v, 1) AS attempts,
    coalesce(retries_v, 0) AS retries,
    coalesce(input_tokens_v, 0) AS input_tokens,
    coalesce(output_tokens_v, 0) AS output_tokens,
    cost_usd_v AS cost_usd,
    coalesce(router_cost_usd_v, 0) AS router_cost_usd,
    coalesce(human_cost_usd_v, 0) AS human_cost_usd,
    latency_ms_v AS latency_ms,
    ttft_ms_v AS ttft_ms,
    router_latency_ms_v AS router_latency_ms,
    if(empty(coalesce(f.status, '')), 'ok', f.status) AS status,
    coalesce(f.error_type, '') AS error_type,
    resolved_v AS resolved,
    thumb_v AS thumb,
    csat_v AS csat,
    coalesce(f.shadow_route, '') AS shadow_route,
    calls_v AS calls,
    cityHash64(tuple(
        request_id, ts, user_id, account_id, session_id, language, channel, tier, region, toString(mapSort(segments)),
        task_type, router, router_score, route, final_route, model, escalated, escalation_reason, attempts, retries,
        input_tokens, output_tokens, cost_usd, router_cost_usd, human_cost_usd, latency_ms, ttft_ms,
        router_latency_ms, status, error_type, resolved, thumb, csat, shadow_route, toString(calls)
    )) AS row_hash,
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
            'Tuple(request_id Nullable(String), ts Nullable(String), user_id Nullable(String),
                account_id Nullable(String), session_id Nullable(String), language Nullable(String),
                channel Nullable(String), tier Nullable(String), region Nullable(String),
                segments Nullable(String), task_type Nullable(String), router Nullable(String),
                router_score Nullable(String), route Nullable(String), final_route Nullable(String),
                model Nullable(String), escalated Nullable(String), escalation_reason Nullable(String),
                attempts Nullable(String), retries Nullable(String), input_tokens Nullable(String),
                output_tokens Nullable(String), cost_usd Nullable(String), router_cost_usd Nullable(String),
                human_cost_usd Nullable(String), latency_ms Nullable(String), ttft_ms Nullable(String),
                router_latency_ms Nullable(String), status Nullable(String), error_type Nullable(String),
                resolved Nullable(String), thumb Nullable(String), csat Nullable(String),
                shadow_route Nullable(String), calls Nullable(String),
                __raw Nullable(String), __error Nullable(String))'
        ) AS f,
        -- numbers: text that is not a finite number is a type error
        toFloat64OrNull(f.router_score) AS router_score_v,
        toFloat64OrNull(f.cost_usd) AS cost_usd_v,
        toFloat64OrNull(f.router_cost_usd) AS router_cost_usd_v,
        toFloat64OrNull(f.human_cost_usd) AS human_cost_usd_v,
        toFloat64OrNull(f.latency_ms) AS latency_ms_v,
        toFloat64OrNull(f.ttft_ms) AS ttft_ms_v,
        toFloat64OrNull(f.router_latency_ms) AS router_latency_ms_v,
        toFloat64OrNull(f.attempts) AS attempts_f,
        toFloat64OrNull(f.retries) AS retries_f,
        toFloat64OrNull(f.input_tokens) AS input_tokens_f,
        toFloat64OrNull(f.output_tokens) AS output_tokens_f,
        toFloat64OrNull(f.thumb) AS thumb_f,
        toFloat64OrNull(f.csat) AS csat_f,
        if(attempts_f = floor(attempts_f) AND abs(attempts_f) < 1e15, toInt64(attempts_f), NULL) AS attempts_v,
        if(retries_f = floor(retries_f) AND abs(retries_f) < 1e15, toInt64(retries_f), NULL) AS retries_v,
        if(input_tokens_f = floor(input_tokens_f) AND abs(input_tokens_f) < 1e15, toInt64(input_tokens_f), NULL) AS input_tokens_v,
        if(output_tokens_f = floor(output_tokens_f) AND abs(output_tokens_f) < 1e15, toInt64(output_tokens_f), NULL) AS output_tokens_v,
        if(thumb_f = floor(thumb_f) AND abs(thumb_f) < 1e15, toInt64(thumb_f), NULL) AS thumb_v,
        if(csat_f = floor(csat_f) AND abs(csat_f) < 1e15, toInt64(csat_f), NULL) AS csat_v,
        -- booleans: true/false or 1/0
        multiIf(lower(f.escalated) IN ('true', '1'), true, lower(f.escalated) IN ('false', '0'), false, NULL) AS escalated_v,
        multiIf(lower(f.resolved) IN ('true', '1'), true, lower(f.resolved) IN ('false', '0'), false, NULL) AS resolved_v,
        -- timestamps: epoch seconds or milliseconds, or ISO 8601 with an offset
        toFloat64OrNull(f.ts) AS ts_number,
        match(coalesce(f.ts, ''), '(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$') AS ts_has_offset,
        multiIf(
            ts_number IS NOT NULL AND isFinite(ts_number) AND abs(ts_number) < 1e15,
                toInt64(round(if(ts_number >= 1e11, ts_number, ts_number * 1000))),
            ts_has_offset, toUnixTimestamp64Milli(parseDateTime64BestEffortOrNull(f.ts, 3, 'UTC')),
            NULL
        ) AS ts_ms,
        -- segments: an object of strings (non-string values keep their JSON text)
        isNotNull(f.segments) AND NOT (isValidJSON(f.segments) AND JSONType(f.segments) = 'Object') AS segments_bad,
        if(
            isNull(f.segments) OR segments_bad,
            map(),
            mapFromArrays(
                arrayMap(kv -> kv.1, JSONExtractKeysAndValuesRaw(coalesce(f.segments, '{}'))),
                arrayMap(kv -> if(JSONType(kv.2) = 'String', JSONExtractString(kv.2), kv.2), JSONExtractKeysAndValuesRaw(coalesce(f.segments, '{}')))
            )
        ) AS segments_map,
        -- calls: a list of objects; each call's values typed like the request's
        isNull(f.calls) OR (isValidJSON(f.calls) AND JSONType(f.calls) = 'Array'
            AND arrayAll(c -> JSONType(c) = 'Object', JSONExtractArrayRaw(coalesce(f.calls, '[]')))) AS calls_ok,
        arrayMap(
            c -> JSONExtract(c, 'Tuple(model Nullable(String), route Nullable(String), input_tokens Nullable(String),
                output_tokens Nullable(String), cost_usd Nullable(String), latency_ms Nullable(String),
                status Nullable(String), error_type Nullable(String))'),
            if(calls_ok, JSONExtractArrayRaw(coalesce(f.calls, '[]')), [])
        ) AS call_texts,
        arrayMap(t -> tuple(coalesce(t.1, ''), coalesce(t.2, ''), toFloat64OrNull(t.3), toFloat64OrNull(t.4),
            toFloat64OrNull(t.5), toFloat64OrNull(t.6), if(empty(coalesce(t.7, '')), 'ok', t.7), coalesce(t.8, '')),
            call_texts) AS calls_v,
        arrayExists(t -> (isNotNull(t.3) AND isNull(toFloat64OrNull(t.3))) OR (isNotNull(t.4) AND isNull(toFloat64OrNull(t.4)))
            OR (isNotNull(t.5) AND isNull(toFloat64OrNull(t.5))) OR (isNotNull(t.6) AND isNull(toFloat64OrNull(t.6))),
            call_texts) AS calls_mistyped,
        arrayFilter(reason -> reason != '', [
            if(isNotNull(f.__error), f.__error, ''),
            if(NOT utf8_ok, 'invalid UTF-8', ''),
            if(utf8_ok AND NOT json_ok, 'malformed JSON', ''),
            if(json_ok AND NOT object_ok, concat('expected a JSON object, got ', lower(toString(JSONType(raw)))), ''),
            if(isNotNull(f.ts) AND ts_ms IS NULL,
                if(ts_number IS NULL AND NOT ts_has_offset,
                    concat('ts: timestamp ''', substring(f.ts, 1, 40), ''' has no UTC offset (add Z or +00:00)'),
                    concat('ts: not an ISO 8601 timestamp: ''', substring(f.ts, 1, 40), '''')), ''),
            if(isNotNull(f.router_score) AND (router_score_v IS NULL OR NOT isFinite(router_score_v)), concat('router_score: expected a number, got ', substring(f.router_score, 1, 40)), ''),
            if(isNotNull(f.cost_usd) AND (cost_usd_v IS NULL OR NOT isFinite(cost_usd_v)), concat('cost_usd: expected a number, got ', substring(f.cost_usd, 1, 40)), ''),
            if(isNotNull(f.router_cost_usd) AND (router_cost_usd_v IS NULL OR NOT isFinite(router_cost_usd_v)), concat('router_cost_usd: expected a number, got ', substring(f.router_cost_usd, 1, 40)), ''),
            if(isNotNull(f.human_cost_usd) AND (human_cost_usd_v IS NULL OR NOT isFinite(human_cost_usd_v)), concat('human_cost_usd: expected a number, got ', substring(f.human_cost_usd, 1, 40)), ''),
            if(isNotNull(f.latency_ms) AND (latency_ms_v IS NULL OR NOT isFinite(latency_ms_v)), concat('latency_ms: expected a number, got ', substring(f.latency_ms, 1, 40)), ''),
            if(isNotNull(f.ttft_ms) AND (ttft_ms_v IS NULL OR NOT isFinite(ttft_ms_v)), concat('ttft_ms: expected a number, got ', substring(f.ttft_ms, 1, 40)), ''),
            if(isNotNull(f.router_latency_ms) AND (router_latency_ms_v IS NULL OR NOT isFinite(router_latency_ms_v)), concat('router_latency_ms: expected a number, got ', substring(f.router_latency_ms, 1, 40)), ''),
            if(isNotNull(f.attempts) AND attempts_v IS NULL, concat('attempts: expected a whole number, got ', substring(f.attempts, 1, 40)), ''),
            if(isNotNull(f.retries) AND retries_v IS NULL, concat('retries: expected a whole number, got ', substring(f.retries, 1, 40)), ''),
            if(isNotNull(f.input_tokens) AND input_tokens_v IS NULL, concat('input_tokens: expected a whole number, got ', substring(f.input_tokens, 1, 40)), ''),
            if(isNotNull(f.output_tokens) AND output_tokens_v IS NULL, concat('output_tokens: expected a whole number, got ', substring(f.output_tokens, 1, 40)), ''),
            if(isNotNull(f.thumb) AND thumb_v IS NULL, concat('thumb: expected a whole number, got ', substring(f.thumb, 1, 40)), ''),
            if(isNotNull(f.csat) AND csat_v IS NULL, concat('csat: expected a whole number, got ', substring(f.csat, 1, 40)), ''),
            if(isNotNull(f.escalated) AND escalated_v IS NULL, concat('escalated: expected true/false or 0/1, got ', substring(f.escalated, 1, 40)), ''),
            if(isNotNull(f.resolved) AND resolved_v IS NULL, concat('resolved: expected true/false or 0/1, got ', substring(f.resolved, 1, 40)), ''),
            if(segments_bad, 'segments: expected an object of strings', ''),
            if(NOT calls_ok, 'calls: expected a list of objects', ''),
            if(calls_mistyped, 'calls: a number field of a call holds something else', '')
        ]) AS reasons
    FROM chunk_lines
)

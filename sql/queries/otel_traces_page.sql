-- name: otel_traces_page
-- params: since_ns Int64, after_ns Int64, after_trace String, after_span String, rows UInt32; the table slot holds an
--   allow-listed, quoted identifier (ingest/remote.py)
-- slots: table
-- returns: TraceId, SpanId, start_ns, Duration, StatusCode, StatusMessage, ResourceAttributes, SpanAttributes;
--   one page of the spans, in the OpenTelemetry collector's otel_traces schema, of every trace that has a span at
--   or after since_ns (so that a trace is always read whole), after the keyset (after_ns, after_trace, after_span)
SELECT
    TraceId,
    SpanId,
    toUnixTimestamp64Nano(Timestamp) AS start_ns,
    Duration,
    StatusCode,
    StatusMessage,
    ResourceAttributes,
    SpanAttributes
FROM {{table}}
WHERE TraceId IN (SELECT TraceId FROM {{table}} WHERE Timestamp >= fromUnixTimestamp64Nano({since_ns:Int64}))
    AND (start_ns, TraceId, SpanId) > ({after_ns:Int64}, {after_trace:String}, {after_span:String})
ORDER BY start_ns, TraceId, SpanId
LIMIT {rows:UInt32}

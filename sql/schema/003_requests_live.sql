-- requests_live: the live version of every request, with late feedback applied (the newest event of a kind
-- wins over the value the request carried). Every metric reads it.
CREATE VIEW IF NOT EXISTS requests_live AS
SELECT
    r.* REPLACE (
        if(f.has_resolved, toBool(f.resolved_value > 0), r.resolved) AS resolved,
        if(f.has_thumb, toInt8(f.thumb_value), r.thumb) AS thumb,
        if(f.has_csat, toUInt8(f.csat_value), r.csat) AS csat
    ),
    coalesce(f.tickets, 0) AS tickets
FROM requests AS r FINAL
LEFT JOIN
(
    SELECT
        request_id,
        countIf(kind = 'resolved') > 0 AS has_resolved,
        argMaxIf(value, tuple(ts, version), kind = 'resolved') AS resolved_value,
        countIf(kind = 'thumb') > 0 AS has_thumb,
        argMaxIf(value, tuple(ts, version), kind = 'thumb') AS thumb_value,
        countIf(kind = 'csat') > 0 AS has_csat,
        argMaxIf(value, tuple(ts, version), kind = 'csat') AS csat_value,
        toUInt32(argMaxIf(value, tuple(ts, version), kind = 'ticket')) AS tickets
    FROM feedback
    GROUP BY request_id
) AS f ON r.request_id = f.request_id

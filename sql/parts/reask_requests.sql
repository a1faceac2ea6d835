-- part: reask_requests
-- params: since DateTime64(3), until DateTime64(3), reask_window_ms UInt64 (how soon a follow-up counts as a re-ask)
-- The source of a query that counts re-asks (metric_reask_rate, gap_cells), which metrics.reask puts
-- in that query's reask_source slot.
-- returns: the live requests from since until reask_window_ms after until (a follow-up may fall after the window;
-- the query keeps ts < until itself), with the columns a cut, a filter or a gap test reads, and reasked Bool: the
-- user sent another request in the same session (or, without a session, another without one) at most
-- reask_window_ms later, or the request escalated because the user asked again (escalation_reason = 'user_retry')
(
    SELECT
        request_id, ts, user_id, user_key, account_id, session_id, language, channel, tier, region, segments,
        task_type, router, route, final_route, model, escalated, escalation_reason, status, error_type, cost_usd,
        router_cost_usd, human_cost_usd, resolved, thumb, csat, shadow_route,
        escalation_reason = 'user_retry'
            OR (leadInFrame(toUnixTimestamp64Milli(ts), 1, toInt64(-1)) OVER follow) - toUnixTimestamp64Milli(ts)
                BETWEEN 0 AND {reask_window_ms:UInt64} AS reasked
    FROM requests_live
    WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)} + toIntervalMillisecond({reask_window_ms:UInt64})
    WINDOW follow AS (PARTITION BY user_key, session_id ORDER BY ts, request_id ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING)
)

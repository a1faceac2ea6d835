-- part: ingest_row_hash
-- params: none
-- returns: (a column of the typed record, in ingest_parse and bench_like_for_like_load) row_hash UInt64: what tells a
-- changed request from an exact duplicate. It reads the typed fields by their names and types in ingest_parse: ts
-- in epoch milliseconds, money as Float64, whole numbers as Int64 (a negative Int8 hashes otherwise), calls as
-- typed tuples; Nullable or not, and UInt16 or Int64 for a non-negative number, hash alike.
-- A reported cost hashes as it did before cost_source existed: loading a file again still changes nothing.
bitXor(cityHash64(tuple(
    request_id, ts, user_id, account_id, session_id, language, channel, tier, region, toString(mapSort(segments)),
    task_type, router, router_score, route, final_route, model, escalated, escalation_reason, attempts, retries,
    input_tokens, output_tokens, cost_usd, router_cost_usd, human_cost_usd, latency_ms, ttft_ms,
    router_latency_ms, status, error_type, resolved, thumb, csat, shadow_route, toString(calls)
)), if(cost_source = 'reported', 0, cityHash64(cost_source))) AS row_hash,

-- name: gap_window_days
-- params: since DateTime64(3), until DateTime64(3) (whole UTC days: the span of every trailing window computed
-- together), plus the segment keys the segments slot binds
-- slots: segments
-- It includes the part gap_flags (what each request adds to the counts of the binary metrics).
-- The segments slot holds one column per dimension, `toLowCardinality(toString(<dimension>)) AS s0`, `... AS s1`,
-- with the dimension's segment written as gap_modal_segment writes it.
-- returns: one row per live request in the span, unaggregated (grouping millions of requests into nearly as many
-- (user, day, task) groups costs the engine more than the arrays that sum them): user_key UInt64, day UInt16 (days
-- since `since`), router and task_type LowCardinality(String), s0, s1, ... LowCardinality(String), and the flags
-- of gap_flags. metrics.gaps.trailing turns these into the sums of every window and dimension (each user in the
-- window's modal segment), the sums gap_moments gives window by window.
SELECT
    user_key,
    toUInt16(toDate(ts) - toDate({since:DateTime64(3)})) AS day,
    router,
    task_type,
    {{segments}},
    {{> gap_flags}}
FROM requests_live
WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
-- No ORDER BY: sorting ten million rows here takes seven times as long as the scan; numpy orders them by user.
-- Segments and routers as dictionaries: a few distinct names over millions of rows.
SETTINGS output_format_arrow_low_cardinality_as_dictionary = 1

-- name: gap_cells
-- params: since DateTime64(3), until DateTime64(3); it includes the part gap_modal_segment (the segment slot), the
-- filters slot holds the filters of metrics.dimensions, and the grain slots one of metrics.gaps.GRAINS: a row per
-- (segment, task_type, user_id) cell, or the far fewer rows per (segment, user_id) and per (segment, task_type) with
-- grain 'user' or 'task' (the other key left empty; a user's rows group on the user alone, whose segment is one).
-- The slots counts, window and sums hold the parts gap_more_counts, gap_more_window and gap_more_sums when the run
-- compares CSAT or cost (20% of the query's time otherwise spent for nothing), or nothing; the slots reask_counts
-- and reask_sums hold the parts gap_reask_counts and gap_reask_sums, and reask_source the part reask_requests, when
-- it compares re-asks (else nothing, and requests_live).
-- slots: filters, grain_column, grain_keys, counts, reask_counts, reask_source, window, sums, reask_sums
-- It includes the part gap_counts (the counts of the binary metrics).
-- returns: grain String, segment String, task_type String, user_id UInt64 (the user's key), requests UInt64,
-- escalated UInt64, errors UInt64, known UInt64, resolved UInt64, rated UInt64, thumbs_up UInt64 (and the columns
-- of the gap_more and gap_reask parts). Each user counts whole in their modal segment.
WITH modal AS
(
    {{> gap_modal_segment}}
)
SELECT
    {{grain_column}} AS grain,
    any(seg) AS segment,
    task_type,
    user_key AS user_id,
    sum(n) AS requests,
    sum(n_escalated) AS escalated,
    sum(n_errors) AS errors,
    sum(n_known) AS known,
    sum(n_resolved) AS resolved,
    sum(n_rated) AS rated,
    sum(n_thumbs_up) AS thumbs_up
    {{sums}}
    {{reask_sums}}
FROM
(
    SELECT m.segment AS seg, c.* {{window}}
    FROM
    (
        SELECT toUInt64(bitShiftRight(pair, 64)) AS user_key, task AS task_type, * EXCEPT (pair, task)
        FROM
        (
            -- One 128-bit key, the user's key above the task type's hash (as in gap_modal_segment).
            SELECT
                bitOr(bitShiftLeft(toUInt128(user_key), 64), cityHash64(task_type)) AS pair,
                any(task_type) AS task,
                {{> gap_counts}}
                {{counts}}
                {{reask_counts}}
            FROM {{reask_source}}
            WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
                {{filters}}
            GROUP BY pair
        )
    ) AS c
    INNER JOIN modal AS m ON c.user_key = m.user_key
)
GROUP BY {{grain_keys}}

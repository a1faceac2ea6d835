-- part: gap_more_window
-- params: none
-- returns: (added to each cell of gap_cells) task_mean Float64: what a priced request costs on average in its
-- segment and task type (gap_cells' window slot)
, sum(c.spend) OVER (PARTITION BY m.segment, c.task_type)
    / greatest(sum(c.priced_n) OVER (PARTITION BY m.segment, c.task_type), 1) AS task_mean

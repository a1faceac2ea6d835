-- part: gap_more_window_bound
-- params: task_means Array(Float64), mean_keys Array(Tuple(String, String)): the mean cost of a priced request of
-- each (segment, task_type), found over every shard
-- returns: (added to each cell of gap_cells, in place of gap_more_window) task_mean Float64, bound rather than
-- computed: on the shards of a cluster, where a shard sees only its own users' spend
, {task_means:Array(Float64)}[indexOf({mean_keys:Array(Tuple(String, String))}, (m.segment, toString(c.task_type)))]
    AS task_mean

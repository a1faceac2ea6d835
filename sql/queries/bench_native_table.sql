-- name: bench_native_table
-- params: path String
-- returns: nothing; an empty table with the schema the engine infers from a JSONL file (the benchmark baseline)
CREATE TABLE native_load ENGINE = MergeTree ORDER BY tuple() AS
SELECT * FROM file({path:String}, 'JSONEachRow') LIMIT 0

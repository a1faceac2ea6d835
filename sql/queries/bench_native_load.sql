-- name: bench_native_load
-- params: path String
-- returns: nothing; the engine's own load of a JSONL file, the baseline routewatch ingest is measured against
INSERT INTO native_load SELECT * FROM file({path:String}, 'JSONEachRow')

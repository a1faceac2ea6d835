-- name: source_table_columns
-- params: database String (empty: the current database), table String
-- returns: name; the columns of a table a source reads (ingest/remote.py tells otel_traces from request_response_rmt)
SELECT name
FROM system.columns
WHERE database = if({database:String} = '', currentDatabase(), {database:String}) AND table = {table:String}

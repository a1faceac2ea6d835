-- name: ingest_feedback_fold
-- params: version UInt64 (the chunk's)
-- returns: nothing; writes into chunk_decided the rows that apply the chunk's feedback events to the live requests
-- they rate (a -1 copy of each live version, the +1 version with the newest events applied; see requests_refolded
-- in sql/schema/006_feedback_in_requests.sql). Deciding the chunk again after its rows landed writes nothing.
INSERT INTO chunk_decided
SELECT * FROM requests_refolded(version = {version:UInt64}, touched_from = {version:UInt64})

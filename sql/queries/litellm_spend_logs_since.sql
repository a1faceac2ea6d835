-- name: litellm_spend_logs_since
-- params: since timestamp (bound as :since; PostgreSQL through SQLAlchemy); the columns and table slots hold quoted
--   identifiers from an allow-list (ingest/remote.py: the spend-log columns the table has, and the table named in
--   the DSN, checked to be a plain identifier)
-- slots: columns, table
-- returns: the LiteLLM spend-log rows that started at or after :since, oldest first (the rows at :since itself
--   again, so that a row written later with the same startTime is not missed; the loader counts the ones it has as
--   duplicates)
SELECT {{columns}} FROM {{table}} WHERE "startTime" >= :since ORDER BY "startTime", request_id

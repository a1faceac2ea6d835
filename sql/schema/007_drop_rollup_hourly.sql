-- The hourly rollup answered no question (hourly buckets read the rows; every rollup metric reads rollup_daily),
-- yet its view computed two histograms on every insert. Dropped to make ingestion cheaper.
DROP VIEW IF EXISTS rollup_hourly_mv;
DROP TABLE IF EXISTS rollup_hourly;

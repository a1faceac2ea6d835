-- The CUSUM threshold h each verdict was judged with (it depends on the day's number of tested contrasts), so
-- that the alert lifecycle can check "S < h/2" when it closes an incident after two clean weekly audits
-- (STATISTICS.md R7.5). NULL for verdicts stored before this migration.
ALTER TABLE gap_decisions ADD COLUMN IF NOT EXISTS cusum_h Nullable(Float64) AFTER cusum_alarm;

-- name: decisions_forget
-- params: since Date
-- returns: nothing. Forgets the stored decisions of every window from since on, so that the next decision run
-- judges them again (after an upgrade that changed the statistics); the CUSUM resumes from the last window kept.
DELETE FROM gap_decisions WHERE window_start >= {since:Date}

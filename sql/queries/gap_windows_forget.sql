-- name: gap_windows_forget
-- params: since Date
-- returns: nothing. Forgets the stored trailing windows as of since and later, so that the next run computes them
-- again (with the decisions they sit beside, after an upgrade that changed the statistics).
DELETE FROM gap_windows WHERE as_of >= {since:Date}

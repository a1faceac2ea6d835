-- part: gap_flags
-- params: none
-- returns: per request, what it adds to each count of the part gap_counts, as UInt8: flag_escalated, flag_errors,
-- flag_known (its outcome is known), flag_resolved, flag_rated (it has a thumb), flag_thumbs_up (named apart from
-- the columns they read: an alias named like a column would replace it in every other expression). The two parts count alike (a test compares
-- the tables computed from each); this one lets a scan return requests unaggregated.
CAST(escalated, 'UInt8') AS flag_escalated,
CAST(status = 'error', 'UInt8') AS flag_errors,
CAST(isNotNull(resolved), 'UInt8') AS flag_known,
CAST(ifNull(resolved, false), 'UInt8') AS flag_resolved,
CAST(isNotNull(thumb), 'UInt8') AS flag_rated,
CAST(ifNull(thumb = 1, false), 'UInt8') AS flag_thumbs_up

-- name: gap_windows_read
-- params: as_of Date, days UInt16, router String ('' for every router), dimension String, metrics String (the
-- metrics compared, comma-separated), since DateTime64(3), until DateTime64(3) (the window's bounds)
-- returns: the rows of the newest stored gap table of that window, dimension and metrics, in their order (every
-- column of gap_windows but the keys), or no row when none is stored or the window's requests have changed since it
-- was computed (a newer request version in the window than its data_version)
SELECT * EXCEPT (as_of, days, router, metrics, data_version, computed_at, position)
FROM gap_windows
WHERE as_of = {as_of:Date} AND days = {days:UInt16} AND router = {router:String}
    AND dimension = {dimension:String} AND metrics = {metrics:String}
    AND computed_at = (
        SELECT max(computed_at) FROM gap_windows
        WHERE as_of = {as_of:Date} AND days = {days:UInt16} AND router = {router:String}
            AND dimension = {dimension:String} AND metrics = {metrics:String}
    )
    AND data_version = (
        SELECT max(version) FROM request_versions_daily
        WHERE day >= toDate({since:DateTime64(3)}) AND day < toDate({until:DateTime64(3)})
    )
ORDER BY position

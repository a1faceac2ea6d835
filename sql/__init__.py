"""routewatch's SQL, shipped as package data (installed as ``routewatch.sql``; read by ``routewatch.sqlfiles``).

``queries/``: one named query a file, with its ``-- name/-- params/-- returns`` header. ``schema/``: the ordered
migrations, ``NNN_name.sql``.
"""

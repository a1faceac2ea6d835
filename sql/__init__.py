"""routewatch's SQL, shipped as package data (installed as ``routewatch.sql``; read by ``routewatch.sqlfiles``).

``queries/``: one named query a file, with its ``-- name/-- params/-- returns`` header, and ``-- slots:`` when it is
a template: ``{{slot}}`` marks where code puts an SQL fragment built from allow-listed identifiers (values are
always bound, ``{name:Type}``), and ``{{> part}}`` includes a part. ``parts/``: fragments that queries include or
that fill a slot, one a file, with a ``-- part/-- params/-- returns`` header. ``schema/``: the ordered migrations,
``NNN_name.sql``. ``routewatch sql --show NAME`` prints a query as it runs; the rules are in ``routewatch.sqlfiles``.
"""

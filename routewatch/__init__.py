"""routewatch: routing fairness and cost observability for LLM routers.

The core every other package stands on: the store client (``store``, with ``guard`` for read-only clients), the SQL
in sql/ (``sqlfiles``), schema migrations, settings, file locks, output formats, maintenance. It imports none of
``ingest``, ``metrics``, ``app``, ``alerts`` or ``cli`` (the command line, the face over all of them).
"""

__version__ = "0.1.0"

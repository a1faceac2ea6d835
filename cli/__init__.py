"""The routewatch command line: the face of the product, one module a command group.

It may import every room (ingest, metrics, alerts, app, the core); no room imports it. Results go to stdout;
progress, logs and errors go to stderr. ``cli.main.main`` is the ``routewatch`` console script.
"""

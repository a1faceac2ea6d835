"""``python -m cli``: the routewatch command line."""

from cli.main import run

run()

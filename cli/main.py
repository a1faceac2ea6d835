"""The ``routewatch`` console script: the parser of every command group, and one-line errors."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from cli import alerts, dashboard, demo, gaps, loading, metrics, store
from cli.common import EXIT_ERROR, EXIT_OK, CommandError, Parents, say
from routewatch.settings import SettingsError, load_settings
from routewatch.store import StoreError

# In the order `routewatch --help` lists them: from a first look to the store's upkeep.
GROUPS = (demo, loading, metrics, gaps, alerts, store, dashboard)


def parser() -> argparse.ArgumentParser:
    """The parser of every command; each group's module adds its own commands."""
    root = argparse.ArgumentParser(
        prog="routewatch", description="Routing fairness and cost observability for LLM routers."
    )
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parents = Parents()
    for group in GROUPS:
        group.register(sub, parents)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``routewatch`` console script: run one command and return its exit code."""
    args = parser().parse_args(argv)
    try:
        # ingest's --chunk-rows and --chunks-in-flight are settings too (None: not given)
        flags = {name: getattr(args, name, None) for name in ("ingest_chunk_rows", "ingest_chunks_in_flight")}
        settings = load_settings({"store": args.store, **flags})
        return int(args.run(args, settings))
    except (CommandError, SettingsError, StoreError, TimeoutError) as exc:
        say(f"routewatch {args.command}: error: {exc}")
        return EXIT_ERROR
    except SQLAlchemyError as exc:  # the alert state database; its URL's password is hidden by SQLAlchemy
        say(f"routewatch {args.command}: state database error: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except BrokenPipeError:  # `routewatch sql ... | head`: the reader has what it wanted
        sys.stderr.close()
        return EXIT_OK


def run() -> None:
    """The ``routewatch`` console script: ``main``, then exit without the interpreter's last garbage collection."""
    code = main()
    # Every object great-expectations, pandas and plotly made would be looked at once more on the way out (1.4 s);
    # frozen, they are left to the exit. Open files and the store are closed by reference counting and atexit as before.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()

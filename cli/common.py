"""What every command shares: exit codes, one-line errors, list and filter arguments, the store and the window."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Protocol

from metrics.window import WindowError, parse_time, window
from routewatch import output
from routewatch.settings import Settings
from routewatch.store import Store

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class CommandError(RuntimeError):
    """A failure to report in one line, without a traceback."""


class Command(Protocol):
    """A command's body: the parsed arguments and the settings in, an exit code out."""

    def __call__(self, args: argparse.Namespace, settings: Settings) -> int: ...


class Parents:
    """The argument groups that commands share: ``common`` (--store) and ``fmt`` (--format of results)."""

    def __init__(self) -> None:
        self.common = argparse.ArgumentParser(add_help=False)
        self.common.add_argument("--store", help="store DSN: chdb:///abs/path or http(s)://user:pass@host:8123/db")
        self.fmt = argparse.ArgumentParser(add_help=False)
        self.fmt.add_argument("--format", choices=output.OUTPUT_FORMATS, default="table")


def say(message: str) -> None:
    """One line on stderr, where progress and errors go."""
    print(message, file=sys.stderr, flush=True)


def names(text: str | None) -> list[str]:
    """A comma-separated list of names, blanks dropped."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def where(pairs: list[str]) -> dict[str, str]:
    """Repeated ``--where DIM=VALUE`` as a mapping; CommandError for a pair without ``=``."""
    found = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise CommandError(f"--where takes DIM=VALUE, not {pair!r}")
        found[name.strip()] = value
    return found


def time(text: str | None) -> datetime | None:
    """An optional ISO 8601 argument as a UTC datetime (see metrics.window.parse_time)."""
    if not text:
        return None
    try:
        return parse_time(text)
    except WindowError as exc:
        raise CommandError(str(exc)) from None


def time_window(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """--since and --until as UTC datetimes; CommandError when the window starts after it ends."""
    start, end = time(since), time(until)
    if start is not None and end is not None:
        try:
            window(start, end)
        except WindowError:
            raise CommandError(f"--since {since} is after --until {until}: the window would be empty") from None
    return start, end


# A command's queries reuse one embedded session while they come within this many seconds of each other: each session
# opened costs some 0.2 s and leaves some of the engine's threads behind (`decide` over two days of 50,000 requests
# opened 17 and took 5.6 s, with one 3.5 s: BENCHMARKS.md, the sixteenth session). The idle session steps aside at
# once for another process that waits for the store.
SESSION_LINGER_S = 60.0


def open_store(settings: Settings, *, read_only: bool = False, fixed_settings: bool = False) -> Store:
    """The store of ``settings`` with its time limit and lock timeout."""
    return Store(
        settings.store_dsn,
        read_only=read_only,
        time_limit_s=settings.query_time_limit_s,
        fixed_settings=fixed_settings,
        lock_timeout_s=settings.lock_timeout_s,
        linger_s=SESSION_LINGER_S,
    )


def readable_store(settings: Settings) -> Store:
    """A read-only store whose schema is current, or CommandError with a clear word on what to do."""
    from routewatch.migrations import readiness

    store = open_store(settings, read_only=True)
    ready = readiness(store)
    if ready.state != "ready":
        raise CommandError(ready.advice(store.display))
    return store

"""The ClickHouse store: one clickhouse-connect client for embedded chDB and for a ClickHouse server.

An embedded chDB store admits one process at a time, so routewatch holds it for units of work (a query, a chunk
of an ingest) under a file lock, and waits a bounded time for the lock. Threads of one process share the lock and
each has its own client (chDB runs their queries side by side). A process may keep idle sessions open between units
of work (``linger_s``, ``reusing_sessions``). A process that waits leaves a marker: idle sessions close at once, and a
long job steps aside between units of work (``yield_to_waiters``), so readers get their turn.
A server store needs no lock.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import re
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import clickhouse_connect
import pandas as pd
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from routewatch import guard
from routewatch.locks import POLL_S, file_lock, others_waiting
from routewatch.sqlfiles import query

_CHDB_BUSY = "Cannot lock file"
# The engine runs one embedded store per process: another path opens once the sessions on the first are closed.
_CHDB_OTHER_PATH = "EmbeddedServer already initialized"
_LINGERING: weakref.WeakSet[Store] = weakref.WeakSet()  # stores of this process that may hold idle sessions
_LINGERING_LOCK = threading.Lock()
# The HTTP driver logs a failed connection before raising it; routewatch reports the raised error, in words.
logging.getLogger("clickhouse_connect.driver._backend").setLevel(logging.CRITICAL)
LOG = logging.getLogger("routewatch.store")
_OS_ERROR = re.compile(r"\[Errno -?\d+\] ([^\"'()\]]+)")
_CLUSTER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class StoreError(RuntimeError):
    """The store cannot be reached or refused a statement. The message never carries a password."""


class StoreBusy(StoreError):
    """Another process held the embedded store for longer than the lock timeout."""


class StoreTimeout(StoreError):
    """A read-only client's query ran past its time limit (``max_execution_time``)."""


def check_cluster_name(cluster: str) -> str:
    """``cluster`` when it is a cluster name (letters, digits, ``_`` and ``-``; it becomes an identifier), else
    ``ValueError``."""
    if not _CLUSTER_NAME.fullmatch(cluster):
        raise ValueError(f"invalid cluster name {cluster!r}")
    return cluster


def redact(text: str) -> str:
    """Hide the password of every URL in ``text``."""
    # Greedy up to the last "@" of the authority, so a password holding "@" is hidden whole.
    return re.sub(r"(\w+://[^:/@\s]+):[^\s/]*@", r"\1:***@", text)


def _unreachable(text: str) -> str | None:
    """The operating system's reason a server could not be reached ("connection refused"), if the text has one."""
    found = _OS_ERROR.search(text)
    return found.group(1).strip().rstrip(".").lower() if found else None


def _scrub(text: str, secret: str) -> str:
    """The message without secrets, and without the echo of a long statement that the engine appends."""
    text = redact(text).split(" In scope ", 1)[0].split("\nStack trace", 1)[0].rstrip(":")
    text = text.replace(secret, "***") if secret else text
    return text if len(text) <= 600 else text[:600] + " ..."


# The embedded engine's allocator (jemalloc, built into chDB with the prefix je_, so it reads JE_MALLOC_CONF when the
# engine's library loads) keeps freed pages 5 s by its built-in setting and returns them only while it is busy: a
# chunk's parse or write left up to 170 MB of them in an ingest's peak (BENCHMARKS.md, "Freed memory handed back").
# A background thread hands them back within 0.5 s instead, at no measured cost in time. Linux only (jemalloc's
# background threads need it); a setting the environment gives is kept, and child processes inherit it.
ENGINE_ALLOCATOR = "background_thread:true,dirty_decay_ms:500"


def _configure_engine_allocator() -> None:
    """Set JE_MALLOC_CONF for the embedded engine unless the environment sets it (it must be set before the engine's
    library loads: clickhouse-connect loads it with the first embedded client)."""
    if sys.platform.startswith("linux"):
        os.environ.setdefault("JE_MALLOC_CONF", ENGINE_ALLOCATOR)


class Store:
    """A routewatch store, addressed by a DSN: ``chdb:///abs/path`` or ``http(s)://user:pass@host:port/db``."""

    def __init__(
        self,
        dsn: str,
        *,
        read_only: bool = False,
        time_limit_s: float = 0.0,
        fixed_settings: bool = False,
        lock_timeout_s: float = 60.0,
        linger_s: float = 0.0,
    ) -> None:
        """A store client. ``read_only``: the engine refuses writes, each query may run ``time_limit_s`` seconds
        (0: no limit), and no statement may reach outside the store (``routewatch.guard``; ``StoreError``).
        ``fixed_settings`` (read-only clients that run a person's SQL): the engine also refuses setting changes
        (``readonly=1``), so a statement cannot lift the time limit, and table functions that reach outside are
        refused by the engine itself. ``linger_s``: keep an idle embedded session open that long (or until
        another process waits for the store), so that the next unit of work skips opening it again (the
        dashboard's pages)."""
        self.dsn = dsn
        parts = urlsplit(dsn)
        # A store on a ClickHouse cluster names it in its DSN (?cluster=NAME): migrations then create the cluster's
        # tables, and the gap statistics are computed shard by shard (README, "Past one machine").
        options = dict(parse_qsl(parts.query))
        self.cluster = options.pop("cluster", "")
        if self.cluster and not _CLUSTER_NAME.fullmatch(self.cluster):
            raise StoreError(f"invalid cluster name {self.cluster!r} in the store's DSN (letters, digits, _ and -)")
        self._client_dsn = parts._replace(query=urlencode(options)).geturl() if self.cluster else dsn
        self.read_only = read_only or fixed_settings
        self.time_limit_s = time_limit_s
        self.fixed_settings = fixed_settings
        self._table_functions: frozenset[str] | None = None
        self.lock_timeout_s = lock_timeout_s
        self.embedded = parts.scheme == "chdb"
        if self.embedded and self.cluster:
            raise StoreError("an embedded store lives on one machine: a cluster needs a ClickHouse server DSN")
        self._password = parts.password or ""
        if self.embedded:
            raw_path = dsn[len("chdb://") :]
            if not raw_path.startswith("/"):
                raise StoreError(f"an embedded store needs an absolute path: chdb:///abs/path, not {dsn!r}")
            self.path: Path | None = Path(raw_path)
        elif parts.scheme in ("http", "https"):
            self.path = None
        else:
            raise StoreError(f"unsupported store {redact(dsn)!r}: use chdb:///abs/path or http(s)://host:port/db")
        self._local = threading.local()
        self._hold = threading.Condition()
        self._holders = 0
        self._paused = False
        self._lock_stack: ExitStack | None = None
        self.linger_s = linger_s if self.embedded else 0.0
        self._parked: list[Client] = []  # idle sessions kept open (each counts as a holder)
        self._parked_until = 0.0
        self._parked_at_most = 1
        self._watcher: threading.Thread | None = None
        self.opened = 0  # embedded sessions opened by this object (reused parked ones not counted)

    @property
    def display(self) -> str:
        """The DSN with its password hidden, for messages."""
        return redact(self.dsn)

    @property
    def state_dir(self) -> Path:
        """This store's own local directory for state kept outside the engine (the ingest lock, pending chunks,
        spooled input, the default alert state): ``<store>.state`` beside an embedded store, and
        ``.routewatch/server-<hash of the DSN>`` under the working directory for a server."""
        if self.path is not None:
            return self.path.with_name(self.path.name + ".state")
        digest = hashlib.sha256(self.display.encode()).hexdigest()[:12]
        return Path(".routewatch") / f"server-{digest}"

    def _settings(self) -> dict[str, Any]:
        if not self.read_only:
            return {}
        limit = {"max_execution_time": self.time_limit_s} if self.time_limit_s > 0 else {}
        # readonly=2 forbids writes yet lets queries carry their own settings (routewatch's queries do);
        # readonly=1 freezes every setting, so it comes last (the client applies them in order).
        return {**limit, "readonly": 1 if self.fixed_settings else 2}

    def _open(self) -> Client:
        try:
            if self.embedded:
                assert self.path is not None
                self.path.parent.mkdir(parents=True, exist_ok=True)
                _configure_engine_allocator()
                return clickhouse_connect.get_client(dsn=self._client_dsn, settings=self._settings())
            if getattr(self._local, "server_client", None) is None:  # one client (and session) per thread
                self._local.server_client = clickhouse_connect.get_client(
                    dsn=self._client_dsn, settings=self._settings(), connect_timeout=10, send_receive_timeout=300
                )
            return self._local.server_client
        except Exception as exc:
            reason = None if self.embedded else _unreachable(str(exc))
            if reason:
                raise StoreError(f"cannot reach store {self.display}: {reason}") from None
            raise StoreError(f"cannot open store {self.display}: {_scrub(str(exc), self._password)}") from None

    def _busy_message(self) -> str:
        return (
            f"the embedded store {self.path} stayed busy for {self.lock_timeout_s:.0f} s (another routewatch "
            "process holds it); try again, raise ROUTEWATCH_LOCK_TIMEOUT, or use a ClickHouse server"
        )

    @property
    def _waiting(self) -> Path:
        assert self.path is not None
        return self.path.with_name(self.path.name + ".waiting")

    def _acquire(self) -> None:
        """Take the embedded store for this process (the first thread takes the file lock)."""
        with self._hold:
            while self._paused:
                self._hold.wait()
            if self._holders == 0:
                assert self.path is not None
                stack = ExitStack()
                lock = self.path.with_name(self.path.name + ".lock")
                stack.enter_context(
                    file_lock(lock, self.lock_timeout_s, lambda: StoreBusy(self._busy_message()), self._waiting)
                )
                self._lock_stack = stack
            self._holders += 1

    def _release(self) -> None:
        with self._hold:
            self._holders -= 1
            if self._holders == 0 and self._lock_stack is not None:
                self._lock_stack.close()
                self._lock_stack = None
                self._hold.notify_all()

    def yield_to_waiters(self, max_wait_s: float = 5.0) -> None:
        """If another process waits for this embedded store, let it in (call between units of work)."""
        if not self.embedded or not others_waiting(self._waiting):
            return
        with self._hold:
            self._paused = True  # from here on no session is parked or taken from the idle ones
        self._close_parked()
        with self._hold:
            while self._holders:
                self._hold.wait()
        try:
            deadline = time.monotonic() + max_wait_s
            time.sleep(POLL_S * 2)
            while others_waiting(self._waiting) and time.monotonic() < deadline:
                time.sleep(POLL_S)
        finally:
            with self._hold:
                self._paused = False
                self._hold.notify_all()

    @contextmanager
    def session(self) -> Iterator[Client]:
        """A client for one unit of work. Nested sessions in one thread share the client."""
        if getattr(self._local, "depth", 0):
            self._local.depth += 1
            try:
                yield self._local.client
            finally:
                self._local.depth -= 1
            return
        if not self.embedded:
            self._local.client, self._local.depth = self._open(), 1
            try:
                yield self._local.client
            finally:
                self._local.depth = 0
            return
        client = self._unpark()
        if client is None:
            self._acquire()
            try:
                client = self._open_embedded_with_retry()
            except BaseException:
                self._release()
                raise
            self.opened += 1
        self._local.client, self._local.depth = client, 1
        failed = True
        try:
            yield client
            failed = False
        finally:
            self._local.depth = 0
            self._local.client = None
            if failed or not self._park(client):  # a failed unit may have left state in its session: not reused
                try:
                    client.close()
                finally:
                    self._release()

    def _unpark(self) -> Client | None:
        with self._hold:
            return self._parked.pop() if self._parked and not self._paused else None

    def _park(self, client: Client) -> bool:
        """Keep an idle session open for ``linger_s`` (``_parked_at_most`` of them; never while another process
        waits)."""
        if self.linger_s <= 0 or self._someone_waits():
            return False
        with self._hold:
            if len(self._parked) >= self._parked_at_most or self._paused:
                return False
            self._parked.append(client)
            with _LINGERING_LOCK:
                _LINGERING.add(self)
            self._parked_until = time.monotonic() + self.linger_s
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch_parked, name="routewatch-linger", daemon=True)
                self._watcher.start()
        return True

    def _someone_waits(self) -> bool:
        # A parked session holds the file lock, so any live waiter is someone else: another process, or another
        # Store object of this one (a test, a job run from the dashboard's process).
        return others_waiting(self._waiting, this_process_too=True)

    def _watch_parked(self) -> None:
        """Close the parked sessions when they have idled ``linger_s`` or another process waits for the store."""
        while True:
            time.sleep(POLL_S * 2)
            with self._hold:
                if self._parked and time.monotonic() < self._parked_until and not self._someone_waits():
                    continue
                self._watcher = None
            self._close_parked()
            return

    def _close_parked(self) -> None:
        with self._hold:
            idle, self._parked = self._parked, []
        self._close(idle)

    def _close(self, idle: list[Client]) -> None:
        """Close sessions taken out of ``_parked``, each releasing its hold on the store whatever its close does."""
        for client in idle:
            try:
                client.close()
            except Exception as exc:  # the session is gone either way; the others must still be closed
                LOG.warning("closing an idle session of %s failed: %s", self.display, _scrub(str(exc), self._password))
            finally:
                self._release()

    @contextmanager
    def reusing_sessions(self, count: int) -> Iterator[None]:
        """Inside, up to ``count`` idle embedded sessions stay open for the next units of work, whichever thread runs
        them, until the block ends or another process (or another store of this one) waits for the store; then the
        store's own ``linger_s`` applies again. One block at a time on a store (not re-entrant). No-op on a server.

        Each embedded session opened and closed costs some 0.2 s and leaves some of the engine's threads, with their
        allocator caches, behind: a 1M-row ingest with a session per chunk ended with 140 more threads and about
        100 MB more memory (BENCHMARKS.md, the sixteenth session)."""
        if not self.embedded:
            yield
            return
        with self._hold:
            before = self.linger_s, self._parked_at_most
            self.linger_s, self._parked_at_most = max(self.linger_s, 3600.0), max(count, before[1])
        try:
            yield
        finally:
            with self._hold:
                self.linger_s, self._parked_at_most = before
                self._parked_until = min(self._parked_until, time.monotonic() + self.linger_s)
                kept = before[1] if self.linger_s > 0 else 0
                self._parked, surplus = self._parked[:kept], self._parked[kept:]
            self._close(surplus)

    def _open_embedded_with_retry(self) -> Client:
        # A process that is not routewatch (or an older one) may hold chDB's own lock: wait for it too.
        deadline = time.monotonic() + self.lock_timeout_s
        while True:
            try:
                return self._open()
            except StoreError as exc:
                if _CHDB_OTHER_PATH in str(exc) and self._close_idle_elsewhere():
                    continue
                if _CHDB_BUSY not in str(exc) or time.monotonic() > deadline:
                    if _CHDB_BUSY in str(exc):
                        raise StoreBusy(self._busy_message()) from None
                    raise
                time.sleep(POLL_S * 4)

    def _close_idle_elsewhere(self) -> bool:
        """Close the idle sessions other stores of this process keep on other paths; whether there were any."""
        with _LINGERING_LOCK:
            others = [store for store in _LINGERING if store.path != self.path and store._parked]
        for store in others:
            store._close_parked()
        return bool(others)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Queries inside share one session, opened by the first of them (none if every answer was cached).

        Opening an embedded store costs a few hundred milliseconds, so a dashboard page opens it once.
        """
        outer = getattr(self._local, "batch", None)
        if outer is not None:
            yield
            return
        self._local.batch = ExitStack()
        try:
            yield
        finally:
            stack, self._local.batch = self._local.batch, None
            stack.close()

    # Thin wrappers: each runs in a session and turns a driver error into a StoreError without secrets.

    @contextmanager
    def _client(self, sql: str | None) -> Iterator[Client]:
        """A client for ``sql`` (``None``: an insert, which a read-only client's engine refuses itself)."""
        batch = getattr(self._local, "batch", None)
        if batch is not None and not getattr(self._local, "depth", 0):
            batch.enter_context(self.session())
        with self.session() as client:
            try:
                if self.read_only and sql is not None:
                    self._check(client, sql)
                yield client
            except ClickHouseError as exc:
                message = _scrub(str(exc), self._password)
                if self.read_only and "TIMEOUT_EXCEEDED" in message:
                    raise StoreTimeout(
                        f"the query ran past the read-only time limit of {self.time_limit_s:g} s "
                        "(ROUTEWATCH_QUERY_TIME_LIMIT)"
                    ) from None
                raise StoreError(message) from None

    def _check(self, client: Client, sql: str) -> None:
        """Refuse a statement that reaches outside the store (the engine's table functions are read once)."""
        if self._table_functions is None:
            names = client.query(query("table_functions").text).result_rows
            self._table_functions = frozenset(str(row[0]) for row in names)
        try:
            guard.check(sql, self._table_functions, self.cluster)
        except guard.OutsideTheStore as exc:
            raise StoreError(str(exc)) from None

    def query_df(self, sql: str, parameters: dict[str, Any] | None = None, **kwargs: Any) -> pd.DataFrame:
        """Run a query and return a pandas DataFrame (with its columns even when it has no rows). Times come as
        naive UTC timestamps whatever the host's time zone (``query_tz``)."""
        with self._client(sql) as client:
            frame = client.query_df(sql, parameters=parameters or {}, **{"query_tz": "UTC", **kwargs})
            if len(frame.columns) == 0:  # an empty result comes back without its columns
                names = client.query_arrow(sql, parameters=parameters or {}, **kwargs).schema.names
                frame = pd.DataFrame(columns=list(names))
            return frame

    def query_arrow_df(self, sql: str, parameters: dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a query through Arrow (faster for wide results) and return a pandas DataFrame."""
        with self._client(sql) as client:
            return client.query_arrow(sql, parameters=parameters or {}).to_pandas()

    def query_rows(self, sql: str, parameters: dict[str, Any] | None = None, **kwargs: Any) -> list[tuple]:
        """Run a query and return its rows as tuples."""
        with self._client(sql) as client:
            return [tuple(row) for row in client.query(sql, parameters=parameters or {}, **kwargs).result_rows]

    def command(self, sql: str, parameters: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """Run a statement that returns no rows."""
        with self._client(sql) as client:
            return client.command(sql, parameters=parameters or {}, **kwargs)

    def insert_df(self, table: str, frame: pd.DataFrame, settings: dict[str, Any] | None = None) -> None:
        """Insert a DataFrame into ``table``."""
        with self._client(None) as client:
            client.insert_df(table, frame, settings=settings or {})

    def insert_text(self, table: str, column: str, text: bytes, fmt: str, settings: dict[str, Any]) -> None:
        """Insert ``text`` in the input format ``fmt`` into one column of ``table`` (the engine parses it)."""
        with self._client(None) as client:
            client.raw_insert(table, [column], insert_block=text, fmt=fmt, settings=settings)

    def close(self) -> None:
        """Close this thread's server client and the parked embedded sessions, if any."""
        client = getattr(self._local, "server_client", None)
        if client is not None:
            client.close()
            self._local.server_client = None
        self._close_parked()


@atexit.register
def _close_idle_sessions() -> None:
    """Close every idle session of the process at exit (a clean release of the store's lock and files)."""
    with _LINGERING_LOCK:
        stores = list(_LINGERING)
    for store in stores:
        store._close_parked()

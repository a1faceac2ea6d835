"""Sources that are tables, not files, read incrementally with a stored watermark.

- LiteLLM's PostgreSQL: ``routewatch ingest 'postgresql://user@host/litellm?table=LiteLLM_SpendLogs'`` reads,
  through SQLAlchemy (psycopg), the rows whose ``startTime`` is at or after the watermark, from a server-side
  cursor in bounded batches.
- ClickHouse: ``routewatch ingest clickhouse-table:otel_traces`` (a table in the store itself, or
  ``clickhouse-table:otel_traces@http://user@host:8123/db`` on another server) reads the OpenTelemetry
  collector's ``otel_traces`` or Helicone's ``request_response_rmt`` in bounded pages (keyset pagination, in the
  engine), shaping the rows there as the OTLP and Helicone readers read them (sql/queries/*_page.sql). For spans,
  every span of a trace with a span at or after the watermark is read again, so that a trace that grows between
  runs is folded whole, never as a part that would replace the whole.

The rows go to a spool file in the store's state directory, which the one loader then loads like an export of
that format. Only when that file is loaded does the watermark move to the newest time read; a run killed before
that reads the same rows again, and the loader counts the ones it had as duplicates, so nothing is lost or counted
twice. The rows at the watermark itself are read again on every run (a row written later with the same time is
not missed), and counted as duplicates. The watermark is kept per store, per source (its address without the
password, and the table).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson

from routewatch.sqlfiles import query
from routewatch.store import Store, StoreError

POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+")
CLICKHOUSE_PREFIX = "clickhouse-table:"
SPEND_LOGS_TABLE = "LiteLLM_SpendLogs"
# The spend-log columns routewatch reads (LiteLLM's schema.prisma); the large message bodies are left out.
SPEND_LOG_COLUMNS = (
    "request_id", "call_type", "spend", "total_tokens", "prompt_tokens", "completion_tokens", "startTime",
    "endTime", "completionStartTime", "model", "model_group", "model_id", "custom_llm_provider", "user",
    "end_user", "team_id", "organization_id", "metadata", "request_tags", "session_id", "status",
)  # fmt: skip
FETCH_ROWS = 10_000  # rows per batch from PostgreSQL
PAGE_ROWS = 50_000  # rows per page from ClickHouse
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_EPOCH = datetime(1970, 1, 1)
OTEL_COLUMNS = {"TraceId", "SpanId", "Timestamp", "Duration", "SpanAttributes", "ResourceAttributes", "StatusCode"}
HELICONE_COLUMNS = {"request_id", "request_created_at", "prompt_tokens", "completion_tokens", "model", "status"}

# A source's fetch: (watermark or None, output) -> the new watermark; it writes one JSON object a line.
Fetch = Callable[[str | None, IO[bytes]], str | None]


class RemoteError(ValueError):
    """A table source that cannot be read (bad address, unreachable server, missing table or column)."""


def is_remote(given: str) -> bool:
    """True when a command-line input names a database table rather than a file."""
    return given.startswith((*POSTGRES_SCHEMES, CLICKHOUSE_PREFIX))


def _identifier(name: str, quote: str = '"') -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise RemoteError(f"{name!r} is not a plain table or column name")
    return f"{quote}{name}{quote}"


class Watermarks:
    """The newest time read per table source, in ``<state>/watermarks.json`` (written atomically)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "watermarks.json"

    def _all(self) -> dict[str, str]:
        return json.loads(self.path.read_text(encoding="utf-8")) if self.path.is_file() else {}

    def get(self, key: str) -> str | None:
        """The stored watermark of ``key``, if any."""
        return self._all().get(key)

    def set(self, key: str, value: str) -> None:
        """Store ``value`` for ``key`` durably (write, fsync, rename)."""
        marks = {**self._all(), key: value}
        temp = self.path.with_suffix(".tmp")
        with temp.open("w", encoding="utf-8") as handle:
            json.dump(marks, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, self.path)


# -- PostgreSQL (LiteLLM) --------------------------------------------------------------------------------------


def _postgres(given: str) -> tuple[str, Fetch]:
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    try:
        url = make_url(given)
    except ArgumentError as exc:
        raise RemoteError(f"not a database URL: {exc}") from None
    table = str(url.query.get("table") or SPEND_LOGS_TABLE)
    _identifier(table)
    url = url.difference_update_query(["table"])
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    display = f"{url.render_as_string(hide_password=True)}?table={table}"

    def fetch(since: str | None, out: IO[bytes]) -> str | None:
        newest = datetime.fromisoformat(since) if since else _EPOCH
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                have = {column["name"] for column in inspect(connection).get_columns(table)}
                if not {"request_id", "startTime"} <= have:
                    raise RemoteError(f"{display}: no request_id and startTime columns: not LiteLLM spend logs")
                columns = ", ".join(_identifier(c) for c in SPEND_LOG_COLUMNS if c in have)
                sql = query("litellm_spend_logs_since").render(columns=columns, table=_identifier(table))
                result = connection.execution_options(stream_results=True, yield_per=FETCH_ROWS).execute(
                    text(sql), {"since": newest}
                )
                for row in result.mappings():
                    started = row["startTime"]
                    newest = max(newest, started) if isinstance(started, datetime) else newest
                    out.write(orjson.dumps(dict(row), default=str) + b"\n")
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise RemoteError(f"{display}: cannot read: {reason}") from None
        finally:
            engine.dispose()
        return newest.isoformat()

    return display, fetch


# -- ClickHouse (otel_traces, request_response_rmt) ------------------------------------------------------------


def _clickhouse(given: str, store: Store | None) -> tuple[str, Fetch]:
    name, _, address = given.removeprefix(CLICKHOUSE_PREFIX).partition("@")
    database, _, table = name.rpartition(".")
    quoted = ".".join(_identifier(part, "`") for part in (database, table) if part)
    try:
        source = Store(address, read_only=True) if address else store
    except StoreError as exc:
        raise RemoteError(str(exc)) from None
    if source is None:
        raise RemoteError(f"{given}: no store to read the table from")
    display = f"{CLICKHOUSE_PREFIX}{name}" + (f"@{source.display}" if address else "")

    def fetch(since: str | None, out: IO[bytes]) -> str | None:
        try:
            found = source.query_rows(query("source_table_columns").text, {"database": database, "table": table})
        except Exception as exc:
            raise RemoteError(f"{display}: cannot read: {str(exc).strip().splitlines()[0]}") from None
        columns = {row[0] for row in found}
        if columns >= OTEL_COLUMNS:
            return _otel_pages(source, quoted, int(since or 0), out)
        if columns >= HELICONE_COLUMNS:
            cost = "cost / 1e9" if "cost" in columns else "NULL"  # USD x 1e9 since Helicone's migration 52
            return _helicone_pages(source, quoted, cost, int(since or 0), out)
        if not columns:
            raise RemoteError(f"{display}: no such table")
        raise RemoteError(f"{display}: neither otel_traces (OpenTelemetry collector) nor request_response_rmt")

    return display, fetch


def _pages(source: Store, sql: str, params: dict[str, Any], after: Callable[[Any], dict[str, Any]]) -> Iterator[Any]:
    """The rows of a keyset-paginated query, page by page (``after(last row)`` gives the next page's bounds)."""
    while True:
        page = source.query_df(sql, {**params, "rows": PAGE_ROWS})
        yield from page.itertuples(index=False)
        if len(page) < PAGE_ROWS:
            return
        params = {**params, **after(page.iloc[-1])}


def _otel_pages(source: Store, table: str, since_ns: int, out: IO[bytes]) -> str:
    sql = query("otel_traces_page").render(table=table)
    start = {"since_ns": since_ns, "after_ns": -1, "after_trace": "", "after_span": ""}
    newest = since_ns
    for row in _pages(source, sql, start, lambda r: {"after_ns": int(r.start_ns), "after_trace": r.TraceId,
                                                     "after_span": r.SpanId}):  # fmt: skip
        newest = max(newest, int(row.start_ns))
        out.write(orjson.dumps(_as_traces_data(row)) + b"\n")
    return str(newest)


def _as_traces_data(row: Any) -> dict[str, Any]:
    """One otel_traces row as a TracesData document with one span (what the OTLP reader reads)."""

    def pairs(attributes: Any) -> list[dict[str, Any]]:
        return [{"key": k, "value": {"stringValue": v}} for k, v in dict(attributes or {}).items()]

    span = {
        "traceId": row.TraceId,
        "spanId": row.SpanId,
        "startTimeUnixNano": str(int(row.start_ns)),
        "endTimeUnixNano": str(int(row.start_ns) + int(row.Duration)),
        "status": {"code": row.StatusCode, "message": row.StatusMessage},
        "attributes": pairs(row.SpanAttributes),
    }
    resource = {"attributes": pairs(row.ResourceAttributes)}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}


def _helicone_pages(source: Store, table: str, cost: str, since_ms: int, out: IO[bytes]) -> str:
    sql = query("helicone_rmt_page").render(table=table, cost=cost)
    start = {"since_ms": since_ms, "after_ms": -1, "after_id": ""}
    newest = since_ms
    for row in _pages(source, sql, start, lambda r: {"after_ms": int(r.created_ms), "after_id": r.request_id}):
        record = row._asdict()
        newest = max(newest, int(record.pop("created_ms")))
        out.write(orjson.dumps(record, default=str) + b"\n")
    return str(newest)


# -- spooling -------------------------------------------------------------------------------------------------


def spool(given: str, directory: Path, store: Store | None = None) -> tuple[Path, str]:
    """Read the new rows of the table ``given`` names into a spool file; returns (path, display name).

    The spool file's sidecar (``.mark``) holds the watermark to store once the file is loaded (``commit``).
    """
    key, fetch = _postgres(given) if given.startswith(POSTGRES_SCHEMES) else _clickhouse(given, store)
    target_dir = directory / "remote"
    target_dir.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(key.encode()).hexdigest()[:16]
    target = target_dir / f"{name}-{datetime.now().strftime('%Y%m%dT%H%M%S%f')}.jsonl"
    try:
        with target.open("wb") as out:
            newest = fetch(Watermarks(directory).get(key), out)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    target.with_suffix(".mark").write_text(json.dumps({"key": key, "watermark": newest}), "utf-8")
    return target, key


def commit(path: Path, directory: Path) -> None:
    """After a spool file is loaded: store its watermark and remove it (and older spools of the same source)."""
    mark_path = path.with_suffix(".mark")
    if not mark_path.is_file():
        return
    mark = json.loads(mark_path.read_text(encoding="utf-8"))
    if mark["watermark"] is not None:
        Watermarks(directory).set(mark["key"], mark["watermark"])
    prefix = path.name.split("-", 1)[0]
    for old in path.parent.glob(f"{prefix}-*"):
        if old.stem <= path.stem:  # spools of earlier, interrupted runs were replayed before this one
            old.unlink(missing_ok=True)

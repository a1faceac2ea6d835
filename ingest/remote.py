"""Sources that are tables, not files: LiteLLM's PostgreSQL, read incrementally with a stored watermark.

``routewatch ingest 'postgresql://user@host/litellm?table=LiteLLM_SpendLogs'`` reads, through SQLAlchemy (psycopg),
the rows whose ``startTime`` is at or after the watermark, streamed from a server-side cursor in bounded batches
into a spool file in the store's state directory, which the loader then loads like a LiteLLM JSONL export. Only
when that file is loaded does the watermark move to the newest ``startTime`` read; a run killed before that reads
the same rows again, and the loader counts the ones it had as duplicates, so nothing is lost or counted twice.
The watermark is kept per store, per source (the DSN without its password, and the table).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from routewatch.sqlfiles import query

POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+")
SPEND_LOGS_TABLE = "LiteLLM_SpendLogs"
# The spend-log columns routewatch reads (LiteLLM's schema.prisma); the large message bodies are left out.
SPEND_LOG_COLUMNS = (
    "request_id", "call_type", "spend", "total_tokens", "prompt_tokens", "completion_tokens", "startTime",
    "endTime", "completionStartTime", "model", "model_group", "model_id", "custom_llm_provider", "user",
    "end_user", "team_id", "organization_id", "metadata", "request_tags", "session_id", "status",
)  # fmt: skip
FETCH_ROWS = 10_000
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_EPOCH = datetime(1970, 1, 1)


class RemoteError(ValueError):
    """A table source that cannot be read (bad DSN, unreachable server, missing table or column)."""


def is_remote(given: str) -> bool:
    """True when a command-line input names a database table rather than a file."""
    return given.startswith(POSTGRES_SCHEMES)


def _quoted(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise RemoteError(f"{name!r} is not a plain table or column name")
    return f'"{name}"'


class Watermarks:
    """The newest time read per table source, in ``<state>/watermarks.json`` (written atomically)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "watermarks.json"

    def _all(self) -> dict[str, str]:
        return json.loads(self.path.read_text(encoding="utf-8")) if self.path.is_file() else {}

    def get(self, key: str) -> str | None:
        """The stored watermark of ``key`` (ISO 8601), if any."""
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


def _postgres_rows(dsn: str, table: str, since: datetime) -> Iterator[dict[str, Any]]:
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.engine import make_url

    url = make_url(dsn)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            have = {column["name"] for column in inspect(connection).get_columns(table)}
            if not {"request_id", "startTime"} <= have:
                raise RemoteError(f"table {table} has no request_id and startTime columns: not LiteLLM spend logs")
            columns = ", ".join(_quoted(c) for c in SPEND_LOG_COLUMNS if c in have)
            statement = text(query("litellm_spend_logs_since").text.format(columns=columns, table=_quoted(table)))
            result = connection.execution_options(stream_results=True, yield_per=FETCH_ROWS).execute(
                statement, {"since": since}
            )
            for row in result.mappings():
                yield dict(row)
    finally:
        engine.dispose()


def spool(given: str, directory: Path) -> tuple[Path, str]:
    """Read the new rows of the table ``given`` names into a spool file; returns (path, display name).

    The spool file's sidecar (``.mark``) holds the watermark to store once the file is loaded (``commit``).
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    try:
        url = make_url(given)
    except ArgumentError as exc:
        raise RemoteError(f"not a database URL: {exc}") from None
    table = str(url.query.get("table") or SPEND_LOGS_TABLE)
    _quoted(table)
    url = url.difference_update_query(["table"])
    display = f"{url.render_as_string(hide_password=True)}?table={table}"
    key = display
    marks = Watermarks(directory)
    since_text = marks.get(key)
    since = datetime.fromisoformat(since_text) if since_text else _EPOCH
    target_dir = directory / "remote"
    target_dir.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(key.encode()).hexdigest()[:16]
    target = target_dir / f"{name}-{datetime.now().strftime('%Y%m%dT%H%M%S%f')}.jsonl"
    newest = since
    try:
        with target.open("wb") as out:
            for row in _postgres_rows(url.render_as_string(hide_password=False), table, since):
                started = row.get("startTime")
                if isinstance(started, datetime) and started > newest:
                    newest = started
                out.write(orjson.dumps(row, default=str) + b"\n")
    except SQLAlchemyError as exc:
        target.unlink(missing_ok=True)
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise RemoteError(f"{display}: cannot read: {reason}") from None
    target.with_suffix(".mark").write_text(json.dumps({"key": key, "watermark": newest.isoformat()}), "utf-8")
    return target, display


def commit(path: Path, directory: Path) -> None:
    """After a spool file is loaded: store its watermark and remove it (and older spools of the same source)."""
    mark_path = path.with_suffix(".mark")
    if not mark_path.is_file():
        return
    mark = json.loads(mark_path.read_text(encoding="utf-8"))
    Watermarks(directory).set(mark["key"], mark["watermark"])
    prefix = path.name.split("-", 1)[0]
    for old in path.parent.glob(f"{prefix}-*"):
        if old.stem <= path.stem:  # spools of earlier, interrupted runs were replayed before this one
            old.unlink(missing_ok=True)

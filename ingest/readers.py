"""Readers: turn input files into chunks of text the engine numbers and parses, one JSON value a line.

Every format streams in chunks, so memory stays bounded whatever the file size. Line numbers are 1-based
physical lines for JSONL and CSV, and 1-based row numbers for Parquet.
"""

from __future__ import annotations

import csv
import glob
import gzip
import hashlib
import io
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import orjson

from ingest import remote
from ingest.contract import REQUIRED

Format = Literal["jsonl", "csv", "parquet", "feedback", "otlp", "litellm", "helicone", "langfuse", "langfuse-scores"]
FORMATS = ("auto", "jsonl", "csv", "parquet", "feedback", "otlp", "litellm", "helicone", "langfuse", "langfuse-scores")
FEEDBACK_FORMATS = ("feedback", "langfuse-scores")  # the formats that load feedback events, not requests
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet"}
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_FEEDBACK_KEYS = {"request_id", "kind", "value"}
_BOM = b"\xef\xbb\xbf"
_BLOCK_BYTES = 16 << 20
_NEWLINE = ord("\n")


class InputError(ValueError):
    """An input cannot be read at all (missing, unreadable, unknown format)."""


@dataclass
class Chunk:
    """Consecutive rows of one input as the text the engine parses: one JSON value a line.

    A JSONL chunk is the file's own lines, byte for byte, the first of them line ``first_line`` (blank lines
    included, so that the engine can number every line; it skips the blank ones). CSV and Parquet rows become
    JSON objects that carry their line number in ``__line``; a row that could not be read carries ``__error``,
    and ``__raw`` keeps its original text for the quarantine.
    """

    text: bytes = b""
    lines: int = 0
    first_line: int = 1
    numbered: bool = False
    bytes_done: int = 0

    def __len__(self) -> int:
        return self.lines


@dataclass(frozen=True)
class Source:
    """One input file resolved from the command line, with the hash of its content."""

    path: Path
    display: str
    format: Format
    sha256: str
    size: int


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def _open_binary(path: Path) -> IO[bytes]:
    if _is_gzip(path):
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def content_start(head: bytes) -> bytes:
    """The first bytes of a text file from its first content on: a UTF-8 byte-order mark, blank lines and the
    spaces, tabs and carriage returns (CRLF files) before it skipped, as every format's detection sees it."""
    return head.removeprefix(_BOM).lstrip(b" \t\r\n")


def _sniff(path: Path) -> Format:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    guess = _SUFFIXES.get(suffixes[-1]) if suffixes else None
    with _open_binary(path) as handle:
        head = handle.read(65_536)
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    head = content_start(head)
    from ingest.sources import sniff  # the formats other tools write (OTLP, LiteLLM)

    if found := sniff(head):
        return found  # type: ignore[return-value]
    if guess is None:
        guess = "jsonl" if head.startswith((b"{", b"[")) else "csv"
    if guess == "jsonl":
        first = head.split(b"\n", 1)[0]
        try:
            record = orjson.loads(first)
        except orjson.JSONDecodeError:
            return "jsonl"
        if isinstance(record, dict) and set(record) >= _FEEDBACK_KEYS and "route" not in record:
            return "feedback"
    return guess  # type: ignore[return-value]


_HASH_BLOCK_BYTES = 16 << 20  # few blocks: each one waits for the GIL, which importing great-expectations holds


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's content, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_HASH_BLOCK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve(paths: list[str], fmt: str = "auto", spool_dir: Path | None = None, store: Any = None) -> list[Source]:
    """Expand files, directories, globs, ``-`` (stdin) and tables (ingest/remote.py; ``store`` holds the
    ``clickhouse-table:`` ones) into sources; stdin and tables are spooled to files in ``spool_dir``."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    files: list[tuple[Path, str]] = []
    for given in paths:
        if remote.is_remote(given):  # a database table: its new rows, spooled to a file
            try:
                path, display = remote.spool(given, spool_dir or Path(tempfile.gettempdir()), store)
            except remote.RemoteError as exc:
                raise InputError(str(exc)) from None
            files.append((path, display))
        elif given == "-":
            spool = Path(tempfile.mkstemp(prefix="stdin-", dir=spool_dir)[1])
            with spool.open("wb") as out:
                shutil.copyfileobj(sys.stdin.buffer, out)
            files.append((spool, "<stdin>"))
        elif Path(given).is_dir():
            found = sorted(p for p in Path(given).rglob("*") if p.is_file() and not p.name.startswith("."))
            files.extend((p, str(p)) for p in found)
        elif Path(given).is_file():
            files.append((Path(given), given))
        elif glob.has_magic(given):
            matched = sorted(Path(p) for p in glob.glob(given, recursive=True) if Path(p).is_file())
            if not matched:
                raise InputError(f"{given}: no file matches this pattern")
            files.extend((p, str(p)) for p in matched)
        else:
            raise InputError(f"{given}: no such file or directory")
    sources = []
    for path, display in files:
        try:
            sources.append(
                Source(
                    path=path,
                    display=display,
                    format=_sniff(path) if fmt == "auto" else fmt,  # type: ignore[arg-type]
                    sha256=file_sha256(path),
                    size=path.stat().st_size,
                )
            )
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise InputError(f"{display}: cannot read: {exc}") from None
    return sources


def _jsonl_chunks(source: Source, chunk_rows: int) -> Iterator[Chunk]:
    # Large blocks, cut after every chunk_rows-th newline: the lines are never split apart in Python.
    with source.path.open("rb") as raw_handle:
        handle: IO[bytes] = raw_handle
        if _is_gzip(source.path):
            handle = gzip.GzipFile(fileobj=raw_handle)  # type: ignore[assignment]
        buffer, first_line, newlines = bytearray(), 1, 0
        while block := handle.read(_BLOCK_BYTES):
            if first_line == 1 and not buffer:
                block = block.removeprefix(_BOM)  # not part of the first line's JSON
            buffer += block
            newlines += block.count(b"\n")
            while newlines >= chunk_rows:
                cut = int(np.flatnonzero(np.frombuffer(buffer, np.uint8) == _NEWLINE)[chunk_rows - 1]) + 1
                yield Chunk(bytes(buffer[:cut]), chunk_rows, first_line, bytes_done=raw_handle.tell())
                del buffer[:cut]
                first_line, newlines = first_line + chunk_rows, newlines - chunk_rows
        lines = newlines + (1 if buffer and not buffer.endswith(b"\n") else 0)
        yield Chunk(bytes(buffer), lines, first_line, bytes_done=source.size)


def _as_json(record: dict[str, Any], line: int, raw: str | None = None, error: str | None = None) -> bytes:
    record["__line"] = line
    if raw is not None:
        record["__raw"] = raw
    if error is not None:
        record["__error"] = error
    return orjson.dumps(record, default=str)


def _rows_chunk(rows: list[bytes], bytes_done: int = 0) -> Chunk:
    """A chunk of rows already converted to JSON objects, each with its own ``__line``."""
    return Chunk(b"\n".join(rows), len(rows), numbered=True, bytes_done=bytes_done)


def _csv_chunks(source: Source, chunk_rows: int) -> Iterator[Chunk]:
    with _open_binary(source.path) as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")  # Excel adds a BOM
        reader = csv.reader(text)
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):  # blank lines before the header
            header = next(reader, None)
        if header is None:
            yield Chunk(bytes_done=source.size)
            return
        rows: list[bytes] = []
        header = [h.strip() for h in header]
        hint = delimiter_hint(header, REQUIRED)
        start = reader.line_num + 1
        for row in reader:
            number, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="").writerow(row)
            raw = buffer.getvalue()
            if any(_undecodable(cell) for cell in row):
                raw = raw.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="backslashreplace")
                bad = next(i for i, cell in enumerate(row) if _undecodable(cell))
                field = header[bad] if bad < len(header) else f"column {bad + 1}"
                rows.append(_as_json({}, number, raw, f"{field}: invalid UTF-8"))
            elif hint:
                rows.append(_as_json({}, number, raw, hint))
            elif len(row) != len(header):
                fields = f"{len(row)} field{'s' if len(row) != 1 else ''}"
                rows.append(_as_json({}, number, raw, f"row has {fields}, the header has {len(header)}"))
            else:
                rows.append(_as_json(_csv_record(header, row), number, raw))
            if len(rows) >= chunk_rows:
                yield _rows_chunk(rows)
                rows = []
        yield _rows_chunk(rows, source.size)


def _undecodable(cell: str) -> bool:
    """Whether a cell read with errors="surrogateescape" holds bytes that are not UTF-8."""
    return any("\udc80" <= ch <= "\udcff" for ch in cell)


def delimiter_hint(header: list[str], required: tuple[str, ...]) -> str:
    """The reason for the rows of a CSV whose header reads as one field holding another usual delimiter (a
    semicolon-separated export): the ``required`` fields it lacks, and what the delimiter looks like; '' else."""
    if len(header) != 1:
        return ""
    for delimiter, name in ((";", "';'"), ("\t", "a tab"), ("|", "'|'")):
        if delimiter in header[0]:
            missing = [f for f in required if f not in header]
            lacks = f"the header lacks the required fields {', '.join(missing)}: " if missing else "the header "
            return (
                f"{lacks}it reads as one field (the delimiter looks like {name}; routewatch reads comma-separated CSV)"
            )
    return ""


def _csv_record(header: list[str], row: list[str]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    segments: dict[str, str] = {}
    for name, cell in zip(header, row, strict=True):
        if cell == "":
            continue
        if name.startswith("segments."):
            segments[name.removeprefix("segments.")] = cell
        elif name in ("segments", "calls") and cell.lstrip().startswith(("{", "[")):
            try:
                record[name] = orjson.loads(cell)
            except orjson.JSONDecodeError:
                record[name] = cell
        else:
            record[name] = cell
    if segments:
        record["segments"] = segments
    return record


def _parquet_chunks(source: Source, chunk_rows: int) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(source.path)
    except Exception as exc:
        raise InputError(f"{source.display}: not a readable Parquet file: {exc}") from None
    number = 0
    for batch in parquet.iter_batches(batch_size=chunk_rows):
        rows: list[bytes] = []
        for record in batch.to_pylist():
            number += 1
            clean = {k: v for k, v in record.items() if v is not None}
            for key, value in clean.items():
                if hasattr(value, "isoformat"):
                    clean[key] = value.isoformat()
            if isinstance(clean.get("segments"), list):  # Arrow maps arrive as lists of pairs
                clean["segments"] = dict(clean["segments"])
            rows.append(_as_json(clean, number))
        yield _rows_chunk(rows)
    yield Chunk(bytes_done=source.size)


def chunks(source: Source, chunk_rows: int = 100_000) -> Iterator[Chunk]:
    """Stream ``source`` in chunks of at most ``chunk_rows`` rows."""
    if source.format in ("otlp", "litellm", "helicone", "langfuse", "langfuse-scores"):
        from ingest import sources

        yield from sources.chunks(source, chunk_rows)
    elif source.format in ("jsonl", "feedback"):
        yield from _jsonl_chunks(source, chunk_rows)
    elif source.format == "csv":
        yield from _csv_chunks(source, chunk_rows)
    else:
        yield from _parquet_chunks(source, chunk_rows)

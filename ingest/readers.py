"""Readers: turn input files into chunks of (line number, raw text, parsed record or parse errors).

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import orjson

Format = Literal["jsonl", "csv", "parquet", "feedback"]
FORMATS = ("auto", "jsonl", "csv", "parquet", "feedback")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet"}
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_FEEDBACK_KEYS = {"request_id", "kind", "value"}
_BLOCK_BYTES = 16 << 20


class InputError(ValueError):
    """An input cannot be read at all (missing, unreadable, unknown format)."""


@dataclass
class Chunk:
    """Consecutive non-blank rows of one input: source line numbers and the text the engine parses.

    JSONL lines are passed as they are (bytes). CSV and Parquet rows become JSON objects; a row that could not
    be read carries ``__error``, and ``__raw`` keeps its original text for the quarantine.
    """

    lines: list[int] = field(default_factory=list)
    raws: list[bytes] = field(default_factory=list)
    bytes_done: int = 0

    def __len__(self) -> int:
        return len(self.lines)


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


def _sniff(path: Path) -> Format:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    guess = _SUFFIXES.get(suffixes[-1]) if suffixes else None
    with _open_binary(path) as handle:
        head = handle.read(65_536)
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    if guess is None:
        guess = "jsonl" if head.lstrip().startswith((b"{", b"[")) else "csv"
    if guess == "jsonl":
        first = head.lstrip().split(b"\n", 1)[0]
        try:
            record = orjson.loads(first)
        except orjson.JSONDecodeError:
            return "jsonl"
        if isinstance(record, dict) and set(record) >= _FEEDBACK_KEYS and "route" not in record:
            return "feedback"
    return guess  # type: ignore[return-value]


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's content, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve(paths: list[str], fmt: str = "auto", spool_dir: Path | None = None) -> list[Source]:
    """Expand files, directories, globs and ``-`` (stdin, spooled to a file) into sources."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    files: list[tuple[Path, str]] = []
    for given in paths:
        if given == "-":
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
    # Read large blocks and split them: far faster than iterating line by line.
    with source.path.open("rb") as raw_handle:
        handle: IO[bytes] = raw_handle
        if _is_gzip(source.path):
            handle = gzip.GzipFile(fileobj=raw_handle)  # type: ignore[assignment]
        chunk, number, tail = Chunk(), 0, b""
        while True:
            block = handle.read(_BLOCK_BYTES)
            pieces = (tail + block).split(b"\n")
            tail = pieces.pop() if block else b""
            for line in pieces:
                number += 1
                line = line.rstrip(b"\r")
                if not line.strip():
                    continue
                chunk.lines.append(number)
                chunk.raws.append(line)
                if len(chunk) >= chunk_rows:
                    chunk.bytes_done = raw_handle.tell()
                    yield chunk
                    chunk = Chunk()
            if not block:
                break
        chunk.bytes_done = source.size
        yield chunk


def _as_json(record: dict[str, Any], raw: str | None = None, error: str | None = None) -> bytes:
    if raw is not None:
        record["__raw"] = raw
    if error is not None:
        record["__error"] = error
    return orjson.dumps(record, default=str)


def _csv_chunks(source: Source, chunk_rows: int) -> Iterator[Chunk]:
    with _open_binary(source.path) as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")  # Excel adds a BOM
        reader = csv.reader(text)
        header = next(reader, None)
        chunk = Chunk()
        if header is None:
            chunk.bytes_done = source.size
            yield chunk
            return
        header = [h.strip() for h in header]
        start = reader.line_num + 1
        for row in reader:
            number, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="").writerow(row)
            raw = buffer.getvalue()
            if any("\udc80" <= ch <= "\udcff" for ch in raw):
                raw = raw.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="backslashreplace")
                encoded = _as_json({}, raw, "invalid UTF-8")
            elif len(row) != len(header):
                encoded = _as_json({}, raw, f"row has {len(row)} fields, the header has {len(header)}")
            else:
                encoded = _as_json(_csv_record(header, row), raw)
            chunk.lines.append(number)
            chunk.raws.append(encoded)
            if len(chunk) >= chunk_rows:
                yield chunk
                chunk = Chunk()
        chunk.bytes_done = source.size
        yield chunk


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
        chunk = Chunk()
        for record in batch.to_pylist():
            number += 1
            clean = {k: v for k, v in record.items() if v is not None}
            for key, value in clean.items():
                if hasattr(value, "isoformat"):
                    clean[key] = value.isoformat()
            if isinstance(clean.get("segments"), list):  # Arrow maps arrive as lists of pairs
                clean["segments"] = dict(clean["segments"])
            chunk.lines.append(number)
            chunk.raws.append(_as_json(clean))
        yield chunk
    yield Chunk(bytes_done=source.size)


def chunks(source: Source, chunk_rows: int = 100_000) -> Iterator[Chunk]:
    """Stream ``source`` in chunks of at most ``chunk_rows`` rows."""
    if source.format in ("jsonl", "feedback"):
        yield from _jsonl_chunks(source, chunk_rows)
    elif source.format == "csv":
        yield from _csv_chunks(source, chunk_rows)
    else:
        yield from _parquet_chunks(source, chunk_rows)

"""The formats teams already log, read into canonical request records for the one loader (ingest/load.py).

``otlp``: OpenTelemetry traces as OTLP/JSON (ingest/otlp.py); ``litellm``: LiteLLM spend logs (ingest/litellm.py);
``helicone``: Helicone request exports (ingest/helicone.py); ``langfuse`` and ``langfuse-scores``: Langfuse
traces and observations, and scores as feedback events (ingest/langfuse.py).
Each is recognised by its content (``sniff``) and read in chunks of canonical records (``chunks``), which the
loader parses, validates, quarantines and loads exactly like the canonical formats.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from ingest import helicone, langfuse, litellm, otlp
from ingest.calls import Rejected, record_chunks, rejected_record, requests, to_request
from ingest.mapping import load_mapping
from ingest.readers import Chunk, Source
from ingest.routes import RouteTable, load_routes

FORMATS = ("otlp", "litellm", "helicone", "langfuse", "langfuse-scores")


def sniff(head: bytes) -> str | None:
    """The format of a file whose first bytes are ``head``, when it is one of FORMATS."""
    head = head.removeprefix(b"\xef\xbb\xbf")
    if otlp.looks_like(head):
        return "otlp"
    if found := langfuse.looks_like(head):
        return found
    if litellm.looks_like(head):
        return "litellm"
    if helicone.looks_like(head):
        return "helicone"
    return None


def open_text(path: Path) -> IO[str]:
    """A file as UTF-8 text (a BOM skipped), gunzipped when it is gzip."""
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    binary: Any = gzip.GzipFile(path, "rb") if gzipped else path.open("rb")
    return io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline="")


class _TrackedOpener:
    """open_text that remembers the file it opened, so that progress can show how far the reader has come."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._raw: IO[bytes] | None = None

    def __call__(self, path: Path) -> IO[str]:
        handle = open_text(path)
        self._raw = handle.buffer  # type: ignore[attr-defined]
        return handle

    def bytes_done(self) -> int:
        """Bytes read so far (of the uncompressed text for gzip), or the size once closed."""
        raw = self._raw
        return self.size if raw is None or raw.closed else min(self.size, raw.tell())


def _row_records(items: Iterable[Any], routes: RouteTable) -> Iterator[dict[str, Any]]:
    for item in items:  # one row, one request: no grouping needed
        yield rejected_record(item) if isinstance(item, Rejected) else to_request(item, routes)


def chunks(source: Source, chunk_rows: int, routes: RouteTable | None = None) -> Iterator[Chunk]:
    """Canonical records of ``source`` in chunks of at most ``chunk_rows``; the same chunks on every call."""
    routes = routes or load_routes()
    mapping = load_mapping(source.format)
    open_text = _TrackedOpener(source.size)
    records: Iterable[dict[str, Any]]
    if source.format == "otlp":
        records = requests(otlp.read_calls(source.path, mapping, open_text), routes)
    elif source.format == "langfuse":
        records = requests(langfuse.read_calls(source.path, mapping, open_text), routes)
    elif source.format == "langfuse-scores":
        records = langfuse.feedback_records(source.path, mapping, open_text)
    else:
        reader = litellm if source.format == "litellm" else helicone
        records = _row_records(reader.read_calls(source.path, mapping, open_text), routes)
    yield from record_chunks(records, chunk_rows, open_text.bytes_done)

"""The ingest job: read -> parse and type (in the engine) -> validate -> quarantine -> load, exactly once.

Each chunk of lines is one unit of work in one store session. The engine parses and types the lines
(sql/queries/ingest_parse.sql), the great-expectations suite checks the typed rows, and the engine decides what
the chunk writes: new requests, changed ones (a -1 copy of the old version beside the new one, so rollups never
count a request twice) and nothing for exact duplicates. Several chunks are in flight at once (two by default:
ROUTEWATCH_INGEST_CHUNKS_IN_FLIGHT), each in its own session: one parses and validates while another decides or writes;
decisions go one at a time in file order, and so do writes (see _Turns). A chunk drops each copy of its lines as
soon as it is done with it (the client's text once sent, the engine's once parsed and validated), so that memory
goes to the chunks in flight.

Exactly once, across kill -9: every chunk has a version v, greater than any version in the store, and decides
*as of v* (it reads only rows written before v). Before writing, it leaves a small pending record (file, chunk,
v, tokens). A run that finds such a record decides that chunk again, which gives the same rows, and inserts them
with the same insert_deduplication_token: ClickHouse skips what had landed, materialized views included.
"""

from __future__ import annotations

import ctypes
import json
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from ingest import remote
from ingest.contract import FEEDBACK_VALUES
from ingest.readers import FEEDBACK_FORMATS, Chunk, InputError, Source, chunks, file_sha256, resolve
from ingest.validate import ContractSuite, call_suite, feedback_suite, request_suite, warm_up, what_it_takes
from routewatch.locks import file_lock
from routewatch.migrations import migrate, next_version
from routewatch.settings import INGEST_CHUNK_ROWS, INGEST_CHUNKS_IN_FLIGHT
from routewatch.sqlfiles import query, split_statements
from routewatch.store import Store

PARSE_BLOCK_ROWS = 16_384
_DEDUP = {"deduplicate_blocks_in_dependent_materialized_views": 1}
# A chunk's rows go into requests (and calls) as they are: the engine's default (optimize_on_insert) first merges the
# block as a background merge would, and that changes nothing here: a chunk holds one version of a request, its -1
# rows cancel versions that earlier chunks wrote, and the views group their blocks and are read aggregated. Alone,
# one 40,000-row chunk's write took 0.3 CPU-seconds without it and 0.9 to 1.0 with it; in a whole ingest the gain is
# within the machine's noise (BENCHMARKS.md, "Freed memory handed back").
_WRITE = {**_DEDUP, "optimize_on_insert": 0}
# Which feedback values are typed as whole numbers and which as booleans: as the request fields they set; and what
# each kind takes, for the reason of a value of the wrong type.
_FEEDBACK_KINDS = {
    "whole_kinds": [kind for kind, f in FEEDBACK_VALUES.items() if f.kind == "int"],
    "bool_kinds": [kind for kind, f in FEEDBACK_VALUES.items() if f.kind == "bool"],
    "kinds": list(FEEDBACK_VALUES),
    "takes": [what_it_takes(f) for f in FEEDBACK_VALUES.values()],
}


COUNTS = ("read", "loaded", "updated", "quarantined", "duplicates", "already_quarantined")


@dataclass
class FileReport:
    """What happened to one input file: read = loaded + quarantined + duplicates.

    A row counts once across runs: a file loaded before is skipped and every row of it is a duplicate, and a bad
    row that an earlier run quarantined is a duplicate too (``already_quarantined`` says how many of the
    duplicates those are), so summing the reports of every run counts each bad row once.
    """

    file: str
    format: str
    batch_id: str
    read: int = 0
    loaded: int = 0
    updated: int = 0
    quarantined: int = 0
    duplicates: int = 0
    already_quarantined: int = 0
    skipped: bool = False
    seconds: float = 0.0

    def add(self, other: FileReport) -> None:
        """Add the counts of one chunk."""
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class IngestReport:
    """The summary of one ``routewatch ingest`` run."""

    files: list[FileReport] = field(default_factory=list)
    recovered_chunks: int = 0

    def total(self, name: str) -> int:
        """Sum of one count over every file."""
        return sum(getattr(f, name) for f in self.files)

    def as_json(self) -> dict[str, Any]:
        """The JSON object printed by ``routewatch ingest --json``."""
        return {
            **{k: self.total(k) for k in COUNTS},
            "recovered_chunks": self.recovered_chunks,
            "files": [asdict(f) for f in self.files],
        }


# -- local state: the ingest lock and pending records ---------------------------------------------------------


def state_dir(store: Store) -> Path:
    """Local directory for the ingest lock, pending records and spooled stdin of this store (Store.state_dir)."""
    return store.state_dir


def _ingest_lock(directory: Path, timeout_s: float) -> AbstractContextManager[None]:
    def busy() -> Exception:
        return TimeoutError(f"another ingest into this store is still running after {timeout_s:.0f} s")

    return file_lock(directory / "ingest.lock", timeout_s, busy)


@dataclass(frozen=True)
class Pending:
    """What it takes to decide and write one chunk again: the record left before writing it."""

    path: str
    display: str
    format: str
    sha256: str
    size: int
    chunk_rows: int
    chunk: int
    version: int
    batch_id: str

    @classmethod
    def of(cls, source: Source, *, chunk_rows: int, chunk: int, version: int, batch_id: str) -> Pending:
        """The record of one chunk of ``source``."""
        return cls(
            str(source.path), source.display, source.format, source.sha256, source.size,
            chunk_rows, chunk, version, batch_id,
        )  # fmt: skip

    @property
    def source(self) -> Source:
        """The input the chunk came from."""
        return Source(Path(self.path), self.display, self.format, self.sha256, self.size)  # type: ignore[arg-type]

    def write(self, directory: Path) -> Path:
        """Store the record durably (write, fsync, rename)."""
        target = directory / "pending" / f"{self.batch_id}-{self.chunk:06d}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_suffix(".tmp")
        with temp.open("w", encoding="utf-8") as handle:
            json.dump(asdict(self), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
        return target


# -- one chunk --------------------------------------------------------------------------------------------


def _script(store: Store, name: str) -> None:
    for statement in split_statements(query(name).text):
        store.command(statement)


def _send_lines(store: Store, chunk: Chunk) -> None:
    # One thread parses the text as it arrives, so the lines are stored in their order and can be numbered; in
    # blocks of at most PARSE_BLOCK_ROWS lines (two at least), so that the engine parses them on both cores, each
    # block's fields and typed values at a time.
    rows = max(1, min(PARSE_BLOCK_ROWS, (len(chunk) + 1) // 2))
    blocks = {"max_block_size": rows, "min_insert_block_size_rows": rows, "min_insert_block_size_bytes": 0}
    in_order = {"input_format_parallel_parsing": 0, "max_insert_threads": 1}
    store.insert_text("chunk_text", "line", chunk.text, "LineAsString", {**in_order, **blocks})
    chunk.text = b""  # the engine has the lines now: a chunk in flight holds them there only
    numbering = {"first_line": chunk.first_line, "numbered": chunk.numbered}
    store.command(query("ingest_number_lines").text, numbering, settings=blocks)
    store.command(query("ingest_drop_text").text)


def _failures(suite: ContractSuite, frame: pd.DataFrame, lines: pd.Series, prefix: str = "") -> dict[int, list[str]]:
    """Suite failures keyed by source line number."""
    found: dict[int, list[str]] = {}
    for position, messages in suite.failures(frame).items():
        found.setdefault(int(lines.iloc[position]), []).extend(prefix + m for m in messages)
    return found


def _validate(store: Store, feedback: bool) -> dict[int, list[str]]:
    """Run the great-expectations suites on every typed row that is a JSON object."""
    if feedback:
        typed = store.query_arrow_df(query("ingest_checked_feedback").text)
        return _failures(feedback_suite(), typed.drop(columns="line_no"), typed["line_no"])
    typed = store.query_arrow_df(query("ingest_checked_requests").text)
    rejects = _failures(request_suite(), typed.drop(columns="line_no"), typed["line_no"])
    calls = store.query_arrow_df(query("ingest_checked_calls").text)
    if len(calls):
        for line, messages in _failures(
            call_suite(), calls.drop(columns="line_no"), calls["line_no"], "calls."
        ).items():
            rejects.setdefault(line, []).extend(messages)
    return rejects


def _record_rejects(store: Store, rejects: dict[int, list[str]]) -> None:
    if rejects:
        frame = pd.DataFrame({"line_no": list(rejects), "reasons": [sorted(set(r)) for r in rejects.values()]})
        frame["line_no"] = frame["line_no"].astype("uint64")
        store.insert_df("chunk_rejects", frame)


def _counts(store: Store, name: str, params: dict[str, Any], report: FileReport, already: int) -> FileReport:
    """The chunk's counts; ``already`` of its bad lines were quarantined by an earlier run (duplicates now)."""
    row = store.query_df(query(name).text, params).iloc[0]
    counts = FileReport(report.file, report.format, report.batch_id)
    counts.read, counts.quarantined = int(row["read"]), int(row["quarantined"]) - already
    good, versions, ids = int(row["good"]), int(row["distinct_versions"]), int(row["distinct_ids"])
    counts.duplicates = (good - versions) + (ids - int(row["inserted"]))
    counts.updated = int(row["cancelled"]) + (versions - ids)
    counts.loaded = good - counts.duplicates
    counts.duplicates += already
    counts.already_quarantined = already
    return counts


def load_chunk(
    store: Store,
    source: Source,
    chunk: Chunk,
    pending: Pending,
    report: FileReport,
    turns: _Turns | None = None,
    position: int = 0,
) -> FileReport:
    """Parse, validate, decide and write one chunk in one store session; returns its counts.

    Chunks may parse and validate side by side; ``turns`` makes them decide one at a time in file order, and
    write one at a time in file order (a chunk's write may overlap the next chunk's decision).
    """
    feedback = source.format in FEEDBACK_FORMATS
    with store.session():
        _script(store, "ingest_session")
        _script(store, "ingest_chunk_clear")
        counts = _load_chunk(store, source, chunk, pending, report, feedback, turns, position)
        if store.embedded:  # an idle session holds no rows (on a server, the thread's next chunk empties them)
            _script(store, "ingest_chunk_clear")
        _release_memory(store)
        return counts


def _load_chunk(
    store: Store,
    source: Source,
    chunk: Chunk,
    pending: Pending,
    report: FileReport,
    feedback: bool,
    turns: _Turns | None,
    position: int,
) -> FileReport:
    _send_lines(store, chunk)
    if feedback:
        store.command(query("ingest_parse_feedback").text, _FEEDBACK_KINDS)
    else:
        store.command(query("ingest_parse").render())
    _record_rejects(store, _validate(store, feedback))
    _script(store, "ingest_keep_rejected_lines")
    _release_memory(store)
    if turns is None:
        _decide(store, source, pending, feedback)
        return _write(store, source, pending, report, feedback)
    with turns.deciding(position):
        unwritten_from = turns.unwritten_from(position)
        if unwritten_from is not None and (
            feedback  # its fold reads the live requests, which an earlier chunk may still be re-versioning
            or store.query_rows(query("ingest_overlap").text, {"unwritten_from": unwritten_from})[0][0]
        ):
            turns.wait_written(position)
        _decide(store, source, pending, feedback)
    with turns.writing(position):
        return _write(store, source, pending, report, feedback)


def _decide(store: Store, source: Source, pending: Pending, feedback: bool) -> None:
    """Decide the chunk as of its version and record its new live versions (request_keys).

    A feedback chunk loads its events, then re-versions the requests they rate (see ingest_feedback_fold).
    """
    token = f"{pending.batch_id}:{pending.chunk}"
    decide = {"version": pending.version, "batch_id": pending.batch_id, "source_file": source.display}
    if feedback:
        store.command(
            query("ingest_feedback_decide").text,
            decide,
            settings={**_DEDUP, "insert_deduplication_token": f"{token}:feedback"},
        )
        store.command(query("ingest_feedback_fold").text, {"version": pending.version})
    else:
        store.command(query("ingest_decide").text, decide)
    store.command(query("ingest_write_keys").text, settings={**_DEDUP, "insert_deduplication_token": f"{token}:keys"})


def _write(store: Store, source: Source, pending: Pending, report: FileReport, feedback: bool) -> FileReport:
    """Write the decided rows (the rollup views fire here) and the quarantine; returns the chunk's counts."""
    token = f"{pending.batch_id}:{pending.chunk}"
    names = {"file_hash": source.sha256, "source_file": source.display, "batch_id": pending.batch_id}
    for table in ("requests",) if feedback else ("requests", "calls"):
        store.command(
            query(f"ingest_write_{table}").text,
            settings={**_WRITE, "insert_deduplication_token": f"{token}:{table}"},
        )
    already = int(
        store.query_rows(
            query("ingest_already_quarantined").text, {"file_hash": source.sha256, "batch_id": pending.batch_id}
        )[0][0]
    )
    store.command(query("ingest_write_quarantine").text, names)
    if feedback:
        return _counts(store, "ingest_feedback_counts", {"version": pending.version}, report, already)
    return _counts(store, "ingest_chunk_counts", {}, report, already)


def _release_memory(store: Store) -> None:
    """Hand what the chunk freed back to the system: the engine's allocator (embedded store) and the C library's keep
    it otherwise, and a chunk in flight would count the others' leftovers in the process's peak."""
    if store.embedded:
        store.command(query("ingest_release_memory").text)
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


@cache
def _glibc() -> ctypes.CDLL | None:
    """This process's C library when it is glibc (it names its version), with malloc_trim and mallopt typed; None
    elsewhere (musl, macOS), where memory is left as it is."""
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    if not all(hasattr(libc, name) for name in ("gnu_get_libc_version", "malloc_trim", "mallopt")):
        return None
    libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return libc


_M_ARENA_MAX = -8  # mallopt's parameter number for the most malloc arenas (glibc's malloc.h)
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number for the size from which a block is its own mapping
_MMAP_THRESHOLD_BYTES = 512 << 10


@cache
def _frugal_allocators() -> None:
    """Use less memory for the same work (BENCHMARKS.md, "The parse made cheaper, memory handed back"), once per
    process: Arrow's frames from the system allocator, which malloc_trim hands back, instead of its own pool, which
    keeps what it had; at most two malloc arenas (glibc gives each thread its own, up to eight per core, each
    keeping its freed memory); and a block of 512 KiB or more that the heap's free space cannot serve in its own
    mapping, returned when it is freed (glibc raises that threshold to the largest block freed so far, up to 32 MiB,
    after which a chunk's frames and buffers stay in the heap until the next trim: some 100 MB of an ingest's peak).
    What the environment sets (ARROW_DEFAULT_MEMORY_POOL, MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_, glibc.malloc.*
    in GLIBC_TUNABLES) is left as set."""
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        pa.set_memory_pool(pa.system_memory_pool())
    libc = _glibc()
    if libc is None or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return
    if "MALLOC_ARENA_MAX" not in os.environ:
        libc.mallopt(_M_ARENA_MAX, 2)
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)


class _Turns:
    """Chunks parse and validate side by side, then decide one at a time and write one at a time, in file order.

    A chunk decides as of every chunk before it. Its decision reads request_keys (written while deciding) and, for
    the cancel row of a request it replaces, that request's old row in requests; so it waits for an earlier
    chunk's write only when it replaces a request that chunk wrote.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._decided = 0
        self._written = 0
        self._failed = False
        self._versions: dict[int, int] = {}

    def register(self, position: int, version: int) -> None:
        """Note the version of the chunk at ``position`` (before it is submitted)."""
        with self._changed:
            self._versions[position] = version

    def _wait(self, ready: Callable[[], bool]) -> None:
        with self._changed:
            self._changed.wait_for(lambda: ready() or self._failed)
            if self._failed:
                raise RuntimeError("an earlier chunk failed")

    @contextmanager
    def _stage(self, position: int, counter: str) -> Iterator[None]:
        self._wait(lambda: getattr(self, counter) == position)
        try:
            yield
        except BaseException:
            with self._changed:
                self._failed = True
                self._changed.notify_all()
            raise
        with self._changed:
            setattr(self, counter, position + 1)
            self._changed.notify_all()

    def deciding(self, position: int) -> AbstractContextManager[None]:
        """The turn to decide: after every earlier chunk has decided."""
        return self._stage(position, "_decided")

    def writing(self, position: int) -> AbstractContextManager[None]:
        """The turn to write: after every earlier chunk has written."""
        return self._stage(position, "_written")

    def unwritten_from(self, position: int) -> int | None:
        """The version of the oldest earlier chunk not written yet, if any."""
        with self._changed:
            return self._versions[self._written] if self._written < position else None

    def wait_written(self, position: int) -> None:
        """Wait until every chunk before ``position`` has written."""
        self._wait(lambda: self._written >= position)


# -- recovery ---------------------------------------------------------------------------------------------


def replay_pending(store: Store) -> int:
    """Decide and write again every chunk an interrupted run left pending; returns how many."""
    pending_dir = state_dir(store) / "pending"
    replayed = 0
    for record_path in sorted(pending_dir.glob("*.json")) if pending_dir.is_dir() else []:
        record = Pending(**json.loads(record_path.read_text(encoding="utf-8")))
        source = record.source
        if not source.path.is_file() or file_sha256(source.path) != record.sha256:
            raise InputError(
                f"an interrupted ingest of {record.display} cannot be finished: the file is gone or has changed. "
                f"Restore it, or remove {record_path} and rebuild the rollups from scratch."
            )
        for number, chunk in enumerate(chunks(source, record.chunk_rows)):
            if number == record.chunk:
                report = FileReport(record.display, record.format, record.batch_id)
                load_chunk(store, source, chunk, record, report)
                break
        record_path.unlink()
        replayed += 1
    return replayed


# -- the job ---------------------------------------------------------------------------------------------


def _ledger(store: Store, report: FileReport, source: Source, status: str, started: pd.Timestamp) -> None:
    row = {
        "batch_id": report.batch_id,
        "source_file": source.display,
        "file_hash": source.sha256,
        "format": source.format,
        "status": status,
        "started_at": started,
        "updated_at": pd.Timestamp.now(tz="UTC"),
        "rows_read": report.read,
        "rows_loaded": report.loaded,
        "rows_quarantined": report.quarantined,
        "rows_duplicate": report.duplicates,
        "message": "",
    }
    store.insert_df("ingest_batches", pd.DataFrame([row]))


def _mark_interrupted(store: Store, source: Source) -> None:
    stale = store.query_df(query("ingest_batch_interrupted").text, {"file_hash": source.sha256})
    for row in stale.itertuples():
        _ledger(
            store, FileReport(source.display, source.format, str(row.batch_id)), source, "interrupted", row.started_at
        )


def _already_loaded(store: Store, source: Source) -> FileReport | None:
    rows = store.query_df(query("ingest_batch_done").text, {"file_hash": source.sha256})
    if rows.empty:
        return None
    done = rows.iloc[0]
    read = int(done["rows_read"])
    known = store.query_rows(query("quarantine_count").text, {"file_hash": source.sha256})[0][0]
    return FileReport(
        file=source.display,
        format=source.format,
        batch_id=str(done["batch_id"]),
        read=read,
        duplicates=read,
        already_quarantined=int(known),
        skipped=True,
    )


Progress = Callable[[Source, int, int], None]


def ingest_file(
    store: Store,
    source: Source,
    *,
    chunk_rows: int = INGEST_CHUNK_ROWS,
    chunks_in_flight: int = INGEST_CHUNKS_IN_FLIGHT,
    progress: Progress | None = None,
) -> FileReport:
    """Load one source, ``chunks_in_flight`` chunks of ``chunk_rows`` lines at a time; the caller holds the ingest
    lock and has replayed pending chunks."""
    started = time.monotonic()
    with store.session():
        skipped = _already_loaded(store, source)
        if skipped is not None:
            return skipped
        _mark_interrupted(store, source)
    report = FileReport(source.display, source.format, uuid.uuid4().hex)
    started_at = pd.Timestamp.now(tz="UTC")
    directory = state_dir(store)
    with store.session():
        _ledger(store, report, source, "running", started_at)
        version = next_version(store)
    turns = _Turns()
    in_flight: deque[tuple[Future[FileReport], Path, int]] = deque()

    def finish_oldest() -> None:
        future, record, done_bytes = in_flight.popleft()
        report.add(future.result())
        record.unlink()
        if progress:
            progress(source, done_bytes, report.read)

    with ThreadPoolExecutor(max_workers=chunks_in_flight, thread_name_prefix="routewatch-ingest") as pool:
        try:
            position = 0
            for number, chunk in enumerate(chunks(source, chunk_rows)):
                if not len(chunk):
                    continue
                store.yield_to_waiters()  # let a waiting reader in between chunks
                pending = Pending.of(
                    source, chunk_rows=chunk_rows, chunk=number, version=version, batch_id=report.batch_id
                )
                record = pending.write(directory)
                turns.register(position, version)
                work = pool.submit(load_chunk, store, source, chunk, pending, report, turns, position)
                in_flight.append((work, record, chunk.bytes_done))
                position += 1
                version = max(time.time_ns(), version + 1)
                while len(in_flight) >= chunks_in_flight:
                    finish_oldest()
            while in_flight:
                finish_oldest()
        except BaseException:
            for future, _, _ in in_flight:
                future.cancel()
            raise
    if progress:
        progress(source, source.size, report.read)
    report.seconds = round(time.monotonic() - started, 3)
    with store.session():
        _ledger(store, report, source, "done", started_at)
    return report


def ingest(
    store: Store,
    paths: list[str],
    *,
    fmt: str = "auto",
    chunk_rows: int = INGEST_CHUNK_ROWS,
    chunks_in_flight: int = INGEST_CHUNKS_IN_FLIGHT,
    progress: Progress | None = None,
) -> IngestReport:
    """Load every file under ``paths`` into the store and account for every row (``chunk_rows`` and
    ``chunks_in_flight``: see ``ingest_file``)."""
    with store.reusing_sessions(chunks_in_flight):  # one a chunk in flight; the bookkeeping takes one of them
        return _ingest(store, paths, fmt, chunk_rows, chunks_in_flight, progress)


def _ingest(
    store: Store, paths: list[str], fmt: str, chunk_rows: int, chunks_in_flight: int, progress: Progress | None
) -> IngestReport:
    _frugal_allocators()
    warm_up(feedback=None)  # the import takes 5 to 8 s of one core: begun first, it is done by the first validation
    migrate(store)
    directory = state_dir(store)
    directory.mkdir(parents=True, exist_ok=True)
    report = IngestReport()
    with _ingest_lock(directory, store.lock_timeout_s):
        report.recovered_chunks = replay_pending(store)
        sources = resolve(paths, fmt, spool_dir=directory, store=store)
        for kind in {source.format in FEEDBACK_FORMATS for source in sources}:
            warm_up(feedback=kind)
        for source in sources:
            report.files.append(
                ingest_file(store, source, chunk_rows=chunk_rows, chunks_in_flight=chunks_in_flight, progress=progress)
            )
            if source.display == "<stdin>":
                source.path.unlink()  # kept until here so that an interrupted run can be finished
            remote.commit(source.path, directory)  # a table's watermark moves once its new rows are in
    return report

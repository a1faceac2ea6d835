"""The ingest job: read -> normalize -> validate -> quarantine -> load, exactly once.

Exactly once, even across kill -9:
* every chunk is decided (new, duplicate, update) and written inside one store session, under an ingest lock,
  so no other writer interleaves;
* the decided blocks go to a pending file (written atomically) before they are inserted, each with its own
  insert_deduplication_token; a run that finds pending files replays them first, and ClickHouse skips every
  block that had already landed, materialized views included;
* an update writes a cancel row for the old version beside the new one, so rollups never count a request twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pickle
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from ingest.contract import FEEDBACK_FIELDS, FIELDS
from ingest.normalize import Reasons, normalize, normalize_calls
from ingest.readers import Chunk, Source, chunks, cleanup_spooled, resolve
from ingest.validate import call_suite, feedback_suite, request_suite
from routewatch.migrations import migrate
from routewatch.sqlfiles import query
from routewatch.store import Store

CHUNK_ROWS = 100_000
_DEDUP = {"deduplicate_blocks_in_dependent_materialized_views": 1}
_REQUEST_COLUMNS = [f.name for f in FIELDS if f.kind != "calls"]
_CALL_COLUMNS = [
    "model",
    "route",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "latency_ms",
    "status",
    "error_type",
]


@dataclass
class FileReport:
    """What happened to one input file."""

    file: str
    format: str
    batch_id: str
    read: int = 0
    loaded: int = 0
    updated: int = 0
    quarantined: int = 0
    duplicates: int = 0
    skipped: bool = False
    seconds: float = 0.0

    def add(self, other: FileReport) -> None:
        """Add the counts of another chunk or file."""
        for name in ("read", "loaded", "updated", "quarantined", "duplicates"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class IngestReport:
    """The summary of one ``routewatch ingest`` run: read = loaded + quarantined + duplicates."""

    files: list[FileReport] = field(default_factory=list)
    recovered_blocks: int = 0

    def total(self, name: str) -> int:
        """Sum of one count over every file."""
        return sum(getattr(f, name) for f in self.files)

    def as_json(self) -> dict[str, Any]:
        """The JSON object printed by ``routewatch ingest --json``."""
        keys = ("read", "loaded", "updated", "quarantined", "duplicates")
        return {
            **{k: self.total(k) for k in keys},
            "recovered_blocks": self.recovered_blocks,
            "files": [asdict(f) for f in self.files],
        }


# -- where the job keeps its local state (the ingest lock and pending blocks) ---------------------------------


def state_dir(store: Store) -> Path:
    """Local directory for the ingest lock and pending blocks of this store."""
    if store.path is not None:
        return store.path.with_name(store.path.name + ".state")
    digest = hashlib.sha256(store.display.encode()).hexdigest()[:12]
    return Path(".routewatch") / f"server-{digest}"


@contextmanager
def _ingest_lock(directory: Path, timeout_s: float) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / "ingest.lock", os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"another ingest into this store is still running after {timeout_s:.0f} s"
                    ) from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)


def _write_pending(directory: Path, name: str, blocks: list[tuple[str, pd.DataFrame, str]]) -> Path:
    pending = directory / "pending"
    pending.mkdir(parents=True, exist_ok=True)
    final, temp = pending / f"{name}.pkl", pending / f".{name}.tmp"
    with temp.open("wb") as handle:
        pickle.dump(blocks, handle, protocol=pickle.HIGHEST_PROTOCOL)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, final)
    return final


def _insert_blocks(store: Store, blocks: list[tuple[str, pd.DataFrame, str]]) -> None:
    for table, frame, token in blocks:
        if not frame.empty:
            store.insert_df(table, frame, settings={**_DEDUP, "insert_deduplication_token": token})


def replay_pending(store: Store) -> int:
    """Insert the blocks an interrupted run left behind; ClickHouse skips those that had landed."""
    pending = state_dir(store) / "pending"
    replayed = 0
    for path in sorted(pending.glob("*.pkl")) if pending.is_dir() else []:
        with path.open("rb") as handle:
            blocks = pickle.load(handle)
        with store.session():
            _insert_blocks(store, blocks)
        path.unlink()
        replayed += 1
    return replayed


# -- the decisions of one chunk --------------------------------------------------------------------------------


def _merge_reasons(*groups: Reasons) -> Reasons:
    merged: Reasons = {}
    for group in groups:
        for row, messages in group.items():
            merged.setdefault(row, []).extend(messages)
    for row, messages in merged.items():
        typed = {m.split(":", 1)[0] for m in messages if not m.endswith(": required")}
        merged[row] = list(
            dict.fromkeys(m for m in messages if not (m.endswith(": required") and m.split(":")[0] in typed))
        )
    return merged


def _row_hash(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    canon = frame[columns].copy()
    for name in canon.columns:
        if canon[name].dtype == object:
            canon[name] = [
                orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode() if isinstance(v, dict | list) else v
                for v in canon[name]
            ]
    return pd.util.hash_pandas_object(canon, index=False).to_numpy(dtype="uint64")


def _quarantine_frame(chunk: Chunk, rows: list[int], reasons: Reasons, source: Source, batch_id: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "file_hash": source.sha256,
            "source_line": np.array([chunk.lines[i] for i in rows], dtype="uint64"),
            "source_file": source.display,
            "batch_id": batch_id,
            "raw": [chunk.raws[i] for i in rows],
            "reasons": [reasons[i] for i in rows],
            "quarantined_at": pd.Timestamp.now(tz="UTC"),
        }
    )


def _split(chunk: Chunk, reasons: Reasons) -> tuple[list[int], list[int]]:
    bad = sorted(reasons)
    bad_set = set(bad)
    return [i for i in range(len(chunk)) if i not in bad_set], bad


def _request_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Contract columns in store types, with defaults that depend on other fields filled in."""
    out = frame[_REQUEST_COLUMNS].copy()
    out["final_route"] = out["final_route"].fillna(out["route"])
    out["escalated"] = out["escalated"].fillna(out["final_route"] != out["route"]).astype(bool)
    out["ts"] = pd.to_datetime(out["ts"].astype("int64"), unit="ms", utc=True)
    for name in ("attempts", "retries"):
        out[name] = out[name].astype("uint16")
    for name in ("input_tokens", "output_tokens"):
        out[name] = out[name].astype("uint64")
    for name in ("cost_usd", "router_cost_usd", "human_cost_usd"):
        out[name] = out[name].astype("float64").round(9)
    for name in ("router_score", "ttft_ms", "router_latency_ms"):
        out[name] = out[name].astype("Float64")
    out["thumb"] = out["thumb"].astype("Int8")
    out["csat"] = out["csat"].astype("UInt8")
    out["segments"] = [s if isinstance(s, dict) else {} for s in out["segments"]]
    return out


@dataclass
class _Decided:
    blocks: list[tuple[str, pd.DataFrame, str]]
    report: FileReport


class _ChunkLoader:
    """Decides and writes the chunks of one file (requests or feedback)."""

    def __init__(self, store: Store, source: Source, report: FileReport) -> None:
        self.store = store
        self.source = source
        self.report = report
        self.state = state_dir(store)
        self.feedback = source.format == "feedback"

    def load(self, number: int, chunk: Chunk) -> FileReport:
        """Validate, decide and write one chunk; returns its counts."""
        fields = FEEDBACK_FIELDS if self.feedback else FIELDS
        frame, type_reasons = normalize([r or {} for r in chunk.records], fields)
        calls = None if self.feedback else normalize_calls(frame["calls"].tolist(), type_reasons)
        suite = feedback_suite() if self.feedback else request_suite()
        failures = suite.failures(frame.drop(columns="calls", errors="ignore"))
        if calls is not None and len(calls):
            owners = calls["row"].to_numpy()
            for j, messages in call_suite().failures(calls.drop(columns="row")).items():
                failures.setdefault(int(owners[j]), []).extend(f"calls.{m}" for m in messages)
        reasons = _merge_reasons(chunk.errors, type_reasons, failures)
        good, bad = _split(chunk, reasons)
        counts = FileReport(self.source.display, self.source.format, self.report.batch_id, read=len(chunk))
        counts.quarantined = len(bad)
        token = f"{self.report.batch_id}:{number}"
        quarantine = _quarantine_frame(chunk, bad, reasons, self.source, self.report.batch_id)
        with self.store.session():
            if self.feedback:
                blocks = self._decide_feedback(frame.iloc[good], chunk, good, counts, token)
            else:
                assert calls is not None
                blocks = self._decide_requests(frame.iloc[good], calls, chunk, good, counts, token)
            blocks.append(("quarantine", quarantine, f"{token}:quarantine"))
            pending = _write_pending(self.state, f"{self.report.batch_id}-{number:06d}", blocks)
            _insert_blocks(self.store, blocks)
            pending.unlink()
        return counts

    def _probe(self, ids: list[str]) -> None:
        self.store.command(query("ingest_probe_create").text)
        self.store.command(query("ingest_probe_clear").text)
        self.store.insert_df("ingest_probe", pd.DataFrame({"request_id": ids}))

    def _decide_requests(
        self,
        good: pd.DataFrame,
        calls: pd.DataFrame,
        chunk: Chunk,
        rows: list[int],
        counts: FileReport,
        token: str,
    ) -> list[tuple[str, pd.DataFrame, str]]:
        requests = _request_rows(good)
        requests["row_hash"] = _row_hash(good, [*_REQUEST_COLUMNS, "calls"])
        requests["source_line"] = np.array([chunk.lines[i] for i in rows], dtype="uint64")
        requests["chunk_row"] = rows
        # Exact repeats inside the chunk are duplicates; of several versions of one id, the last line wins.
        distinct = requests.drop_duplicates(["request_id", "row_hash"])
        counts.duplicates += len(requests) - len(distinct)
        latest = distinct.drop_duplicates("request_id", keep="last")
        counts.updated += len(distinct) - len(latest)
        self._probe(latest["request_id"].tolist())
        known = self.store.query_df(query("ingest_known_keys").text)
        merged = latest.merge(known, on="request_id", how="left")
        same = merged["row_hash"] == merged["known_hash"]
        counts.duplicates += int(same.sum())
        fresh = merged[~same]
        changed = fresh[fresh["known_version"].notna()]
        counts.updated += len(changed)
        counts.loaded = counts.read - counts.quarantined - counts.duplicates
        if fresh.empty:
            return []
        version = max(time.time_ns(), int(changed["known_version"].max()) + 1 if len(changed) else 0)
        new_rows = fresh.drop(columns=["known_hash", "known_version", "known_ts", "chunk_row"]).assign(
            batch_id=self.report.batch_id,
            source_file=self.source.display,
            ingested_at=pd.Timestamp.now(tz="UTC"),
            version=np.uint64(version),
            sign=np.int8(1),
        )
        cancels = self._cancel_rows(changed)
        keys = new_rows[["request_id", "ts", "row_hash", "version"]]
        kept_calls = calls[calls["row"].isin(fresh["chunk_row"])].copy()
        ids = dict(zip(fresh["chunk_row"], fresh["request_id"], strict=True))
        kept_calls.insert(0, "request_id", kept_calls["row"].map(ids))
        kept_calls["call_index"] = kept_calls.groupby("row").cumcount().astype("uint16")
        kept_calls["version"] = np.uint64(version)
        for name in ("input_tokens", "output_tokens"):
            kept_calls[name] = kept_calls[name].astype("uint64")
        kept_calls = kept_calls[["request_id", "version", "call_index", *_CALL_COLUMNS]]
        return [
            (
                "requests",
                pd.concat([cancels, new_rows], ignore_index=True) if len(cancels) else new_rows,
                f"{token}:requests",
            ),
            ("request_keys", keys, f"{token}:keys"),
            ("calls", kept_calls, f"{token}:calls"),
        ]

    def _cancel_rows(self, changed: pd.DataFrame) -> pd.DataFrame:
        if changed.empty:
            return pd.DataFrame()
        ts = pd.to_datetime(changed["known_ts"], utc=True)
        live = self.store.query_df(
            query("ingest_live_rows").text,
            {
                "ids": changed["request_id"].tolist(),
                "since": ts.min().to_pydatetime(),
                "until": ts.max().to_pydatetime(),
            },
        )
        return live.assign(sign=np.int8(-1))

    def _decide_feedback(
        self, good: pd.DataFrame, chunk: Chunk, rows: list[int], counts: FileReport, token: str
    ) -> list[tuple[str, pd.DataFrame, str]]:
        events = good[["request_id", "ts", "kind", "value"]].copy()
        events["ts"] = pd.to_datetime(events["ts"].astype("int64"), unit="ms", utc=True)
        events["row_hash"] = _row_hash(good, ["request_id", "ts", "kind", "value"])
        events["source_line"] = np.array([chunk.lines[i] for i in rows], dtype="uint64")
        distinct = events.drop_duplicates(["request_id", "kind", "ts", "row_hash"])
        latest = distinct.drop_duplicates(["request_id", "kind", "ts"], keep="last")
        counts.duplicates += len(events) - len(distinct)
        counts.updated += len(distinct) - len(latest)
        self._probe(latest["request_id"].unique().tolist())
        known = self.store.query_df(query("ingest_feedback_known").text)
        if not known.empty:
            known["ts"] = pd.to_datetime(known["ts"], utc=True)
        merged = latest.merge(known, on=["request_id", "kind", "ts"], how="left")
        same = merged["row_hash"] == merged["known_hash"]
        counts.duplicates += int(same.sum())
        counts.updated += int((merged["known_hash"].notna() & ~same).sum())
        counts.loaded = counts.read - counts.quarantined - counts.duplicates
        fresh = merged[~same].drop(columns=["known_hash"])
        fresh = fresh.assign(
            batch_id=self.report.batch_id, source_file=self.source.display, version=np.uint64(time.time_ns())
        )
        return [("feedback", fresh, f"{token}:feedback")]


# -- the job ---------------------------------------------------------------------------------------------------


def _ledger(
    store: Store, report: FileReport, source: Source, status: str, started: pd.Timestamp, message: str = ""
) -> None:
    row = pd.DataFrame(
        [
            {
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
                "message": message,
            }
        ]
    )
    store.insert_df("ingest_batches", row)


def _mark_interrupted(store: Store, source: Source) -> None:
    stale = store.query_df(query("ingest_batch_interrupted").text, {"file_hash": source.sha256})
    for row in stale.itertuples():
        report = FileReport(source.display, source.format, row.batch_id)
        _ledger(
            store,
            report,
            source,
            "interrupted",
            pd.Timestamp(row.started_at, tz="UTC"),
            "the process stopped",
        )


def _already_loaded(store: Store, source: Source) -> FileReport | None:
    rows = store.query_df(query("ingest_batch_done").text, {"file_hash": source.sha256})
    if rows.empty:
        return None
    done = rows.iloc[0]
    return FileReport(
        file=source.display,
        format=source.format,
        batch_id=str(done["batch_id"]),
        read=int(done["rows_read"]),
        quarantined=int(done["rows_quarantined"]),
        duplicates=int(done["rows_read"]) - int(done["rows_quarantined"]),
        skipped=True,
    )


Progress = Callable[[Source, int, int], None]


def ingest_file(
    store: Store, source: Source, *, chunk_rows: int = CHUNK_ROWS, progress: Progress | None = None
) -> FileReport:
    """Load one source; the caller holds the ingest lock."""
    started = time.monotonic()
    with store.session():
        skipped = _already_loaded(store, source)
        if skipped is not None:
            return skipped
        _mark_interrupted(store, source)
    report = FileReport(source.display, source.format, uuid.uuid4().hex)
    started_at = pd.Timestamp.now(tz="UTC")
    with store.session():
        _ledger(store, report, source, "running", started_at)
    loader = _ChunkLoader(store, source, report)
    for number, chunk in enumerate(chunks(source, chunk_rows)):
        if len(chunk):
            report.add(loader.load(number, chunk))
        if progress:
            progress(source, chunk.bytes_done, report.read)
    report.seconds = round(time.monotonic() - started, 3)
    with store.session():
        _ledger(store, report, source, "done", started_at)
    return report


def ingest(
    store: Store,
    paths: list[str],
    *,
    fmt: str = "auto",
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
) -> IngestReport:
    """Load every file under ``paths`` into the store and say what happened to every row."""
    migrate(store)
    directory = state_dir(store)
    directory.mkdir(parents=True, exist_ok=True)
    sources = resolve(paths, fmt, spool_dir=directory)
    report = IngestReport()
    try:
        with _ingest_lock(directory, store.lock_timeout_s):
            report.recovered_blocks = replay_pending(store)
            for source in sources:
                report.files.append(ingest_file(store, source, chunk_rows=chunk_rows, progress=progress))
    finally:
        cleanup_spooled(sources)
    return report


def terminal_progress(source: Source, done_bytes: int, rows: int) -> None:
    """A one-line progress bar on stderr (used only when stderr is a terminal)."""
    share = done_bytes / source.size if source.size else 1.0
    bar = "#" * int(share * 30)
    sys.stderr.write(f"\r{source.display[-40:]:40} [{bar:30}] {share:4.0%} {rows:>12,} rows")
    if done_bytes >= source.size:
        sys.stderr.write("\n")
    sys.stderr.flush()

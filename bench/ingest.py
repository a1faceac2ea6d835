"""Benchmark: routewatch ingest of canonical JSONL against the engine's own loads of the same file.

Four loads of one file, each in its own process on a fresh embedded store. Peak memory is the child's max RSS, and
its largest anonymous RSS, sampled every 20 ms (its own allocations, without the pages of its libraries mapped from
disk, whose count the kernel's page cache decides). CPU seconds are user and system time of every thread (the engine's
loads: of the load alone, as their seconds; the ingest: of the whole process). CPU seconds usually move less than
wall seconds on a shared machine, and show how much of the machine's cores a load keeps busy.
- native: the floor, ``INSERT INTO native_load SELECT * FROM file(path, 'JSONEachRow')`` into a MergeTree table
  with the inferred schema (sql/queries/bench_native_*.sql).
- like-for-like: the reference, the engine loading the file into ``requests`` of a freshly migrated store (the same
  rollup views, keys and partitions) through the column mapping of sql/queries/bench_like_for_like_load.sql.
- like-for-like without the insert-time merge: the same, with ``optimize_on_insert = 0`` as routewatch writes its
  chunks (the engine's default merges each inserted block as a background merge would: for ``requests`` and its
  rollup, some 40 % of the load). The decided reference is the one with the engine's defaults; this one is shown
  beside it.
- ingest: ``routewatch ingest FILE --json``, the whole process (start-up and migrations included).
``--random-ids``: request ids as random UUIDs (as LiteLLM and most gateways write them) instead of the synthetic
sequential ones, so that each chunk's ids are spread over the whole of ``request_keys``, as in a real store.
``--repeat N``: the loads N times over, one after the other (a shared or virtual machine's speed varies by tens of
percent from minute to minute), and the median of the N ratios.
Usage: python bench/ingest.py [--rows 1000000 5000000] [--out bench/out] [--only ingest] [--random-ids] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on sys.path and its name would hide the `ingest` package.
sys.path[0] = str(ROOT)
NATIVE = """
import sys, time
from routewatch.sqlfiles import query
from routewatch.store import Store
store = Store(sys.argv[2])
start, cpu = time.monotonic(), time.process_time()
store.command(query("bench_native_table").text, {"path": sys.argv[3]})
store.command(query("bench_native_load").text, {"path": sys.argv[3]})
print(time.monotonic() - start, time.process_time() - cpu)
"""
# The store is migrated before the clock starts: the reference is the load itself.
LIKE_FOR_LIKE = """
import json, sys, time
from routewatch.migrations import migrate
from routewatch.sqlfiles import query
from routewatch.store import Store
store = Store(sys.argv[2])
migrate(store)
bookkeeping = {"batch_id": "like-for-like", "source_file": sys.argv[3], "version": time.time_ns()}
start, cpu = time.monotonic(), time.process_time()
settings = json.loads(sys.argv[4])
store.command(query("bench_like_for_like_load").render(), {"path": sys.argv[3], **bookkeeping}, settings=settings)
print(time.monotonic() - start, time.process_time() - cpu)
"""
LOADS = ("native", "like_for_like", "like_for_like_unmerged", "ingest")
# Each engine load: its script, and the settings of its load (as JSON, the script's last argument).
SCRIPTS: dict[str, tuple[str, dict[str, object]]] = {
    "native": (NATIVE, {}),
    "like_for_like": (LIKE_FOR_LIKE, {}),
    "like_for_like_unmerged": (LIKE_FOR_LIKE, {"optimize_on_insert": 0}),
}


# Runs a module as __main__ and writes its own peak RSS and peak anonymous RSS (KiB) to the file named first. VmHWM,
# not ru_maxrss: Linux carries ru_maxrss over fork and exec, so a child would report its parent's peak if that was
# higher. The anonymous part (RssAnon: the process's own allocations, not the pages of its libraries mapped from disk,
# whose count the kernel's page cache decides) has no high-water mark of its own: it is sampled every 20 ms.
PEAK = """
import atexit, re, runpy, sys, threading, time
out, sys.argv = sys.argv[1], sys.argv[2:]
anon = [0]
def field(name):
    return int(re.search(name + r":\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
def sample():
    while True:
        anon[0] = max(anon[0], field("RssAnon"))
        time.sleep(0.02)
threading.Thread(target=sample, daemon=True).start()
def peak():
    open(out, "w").write(f"{field('VmHWM')} {max(anon[0], field('RssAnon'))}")
atexit.register(peak)
runpy.run_module(sys.argv[0], run_name="__main__") if sys.argv[0] != "-c" else exec(sys.argv[1])
"""


class Measured(NamedTuple):
    """One child process: wall and CPU seconds (user and system, every thread), peak RSS and peak anonymous RSS in
    MiB, and its stdout."""

    wall_s: float
    cpu_s: float
    peak_mb: float
    anon_peak_mb: float
    stdout: str


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _measure(arguments: list[str], environment: dict[str, str] | None = None) -> Measured:
    """Run one child and measure it; ``arguments`` follow ``python -m`` (or ``-c``)."""
    with tempfile.NamedTemporaryFile("r") as peak:
        start, cpu = time.monotonic(), _children_cpu()
        command = [sys.executable, "-c", PEAK, peak.name, *arguments]
        result = subprocess.run(command, cwd=ROOT, capture_output=True, env=environment)
        elapsed, cpu = time.monotonic() - start, _children_cpu() - cpu
        if result.returncode != 0:
            raise RuntimeError(f"{arguments[:3]} failed: {result.stderr.decode()[-2000:]}")
        rss_kib, anon_kib = map(int, peak.read().split())
        return Measured(elapsed, cpu, rss_kib / 1024, anon_kib / 1024, result.stdout.decode())


def _fresh_store(workdir: Path, name: str) -> str:
    """The DSN of an empty embedded store under ``workdir`` (what an earlier run with ``--out`` left is removed)."""
    store = workdir / name
    for leftover in (store, *store.parent.glob(f"{store.name}.*")):
        if leftover.is_dir():
            shutil.rmtree(leftover)
        elif leftover.exists():
            leftover.unlink()
    return f"chdb://{store}"


def _engine_load(script: str, name: str, path: Path, workdir: Path, settings: dict[str, object]) -> Measured:
    """The load on a fresh store: its wall and CPU seconds as the child timed them (start-up and migrations left out),
    the child's peaks."""
    store = _fresh_store(workdir, f"{name}-{path.stem}")
    # The engine's own allocator settings, not the ones routewatch.store gives it (unless this environment sets them).
    engine_defaults = {**os.environ, "JE_MALLOC_CONF": os.environ.get("JE_MALLOC_CONF", "")}
    child = _measure(["-c", script, store, str(path), json.dumps(settings)], engine_defaults)
    wall, cpu = map(float, child.stdout.strip().splitlines()[-1].split())
    return child._replace(wall_s=wall, cpu_s=cpu)


def _random_ids(rows: int, seed: int) -> list[str]:
    """``rows`` distinct version-4 UUIDs, the same for the same seed."""
    rng = random.Random(seed)
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(rows)]


def bench(
    rows: int, workdir: Path, loads: tuple[str, ...] = LOADS, random_ids: bool = False, run: int = 1
) -> dict[str, object]:
    """Generate ``rows`` synthetic requests (once), then time each of ``loads`` of that file in its own process."""
    from ingest.synthetic import generate, write_jsonl

    path = workdir / f"traffic-{rows}{'-random-ids' if random_ids else ''}.jsonl"
    if not path.exists():
        traffic = generate(rows, seed=1)
        if random_ids:
            traffic["request_id"] = _random_ids(rows, seed=1)
        write_jsonl(traffic, path)
    result: dict[str, object] = {"rows": rows, "ids": "random" if random_ids else "sequential", "run": run}
    result["file_mb"] = round(path.stat().st_size / 2**20)
    peaks: dict[str, object] = {}
    cpus: dict[str, object] = {}
    seconds: dict[str, float] = {}
    for name, (script, settings) in SCRIPTS.items():
        if name in loads:
            load = _engine_load(script, name, path, workdir, settings)
            seconds[name] = load.wall_s
            result[f"{name}_s"], cpus[f"{name}_cpu_s"] = round(load.wall_s, 2), round(load.cpu_s, 1)
            peaks[f"{name}_peak_mb"], peaks[f"{name}_anon_peak_mb"] = round(load.peak_mb), round(load.anon_peak_mb)
    if "ingest" in loads:
        store = _fresh_store(workdir, f"store-{path.stem}")
        child = _measure(["cli", "ingest", str(path), "--json", "--store", store])
        ingest_s, summary = child.wall_s, json.loads(child.stdout)
        assert summary["loaded"] == rows, summary
        result["ingest_s"] = round(ingest_s, 2)
        result["ingest_load_s"] = summary["files"][0]["seconds"]  # inside the process: no start-up, no migrations
        for reference in ("like_for_like", "like_for_like_unmerged"):
            if reference in seconds:
                result[f"ingest_over_{reference}"] = round(ingest_s / seconds[reference], 2)
        peaks["ingest_peak_mb"], peaks["ingest_anon_peak_mb"] = round(child.peak_mb), round(child.anon_peak_mb)
        cpus["ingest_cpu_s"] = round(child.cpu_s, 1)
    return {**result, **cpus, **peaks}


def _load_average() -> str:
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def print_table(results: list[dict[str, object]], command: str, load_before: str = "") -> None:
    """Print the machine, the date, the command, the load average (before the run too, if given) and the results as
    a Markdown table for BENCHMARKS.md."""
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; command: {command}")
    before = f"{load_before} before, " if load_before else ""
    print(f"load average (1, 5, 15 min): {before}{_load_average()} after\n")
    columns = list(results[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for result in results:
        print("| " + " | ".join(str(result[c]) for c in columns) + " |")


def main() -> None:
    """Run the benchmark and print a Markdown table for BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--out", type=Path, default=None, help="keep files here (default: a temporary directory)")
    parser.add_argument("--only", choices=LOADS, nargs="+", default=list(LOADS), help="run only these loads")
    parser.add_argument("--random-ids", action="store_true", help="request ids as random UUIDs")
    parser.add_argument("--repeat", type=int, default=1, help="run the loads this many times (the median ratio)")
    args = parser.parse_args()
    load_before = _load_average()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.out or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        results = [
            bench(rows, workdir, tuple(args.only), args.random_ids, run)
            for rows in args.rows
            for run in range(1, args.repeat + 1)
        ]
    options = f" --only {' '.join(args.only)}" if tuple(args.only) != LOADS else ""
    options += " --random-ids" if args.random_ids else ""
    options += f" --repeat {args.repeat}" if args.repeat > 1 else ""
    print_table(results, f"python bench/ingest.py --rows {' '.join(map(str, args.rows))}{options}", load_before)
    for rows in args.rows if args.repeat > 1 else []:
        for reference in ("like_for_like", "like_for_like_unmerged"):
            ratio = f"ingest_over_{reference}"
            ratios = [float(str(r[ratio])) for r in results if r["rows"] == rows and ratio in r]
            if ratios:
                median = round(statistics.median(ratios), 2)
                print(f"\nmedian ingest / {reference} at {rows:,} rows: {median} (runs: {ratios})")


if __name__ == "__main__":
    main()

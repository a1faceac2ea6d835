"""Benchmark: routewatch ingest of canonical JSONL against the engine's native load of the same file.

Each measurement runs in its own process on a fresh embedded store; peak memory is the child's max RSS.
Usage: python bench/ingest.py [--rows 1000000 5000000] [--out bench/out]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on sys.path and its name would hide the `ingest` package.
sys.path[0] = str(ROOT)
NATIVE = """
import sys, time
from routewatch.sqlfiles import query
from routewatch.store import Store
store = Store(sys.argv[2])
start = time.monotonic()
store.command(query("bench_native_table").text, {"path": sys.argv[3]})
store.command(query("bench_native_load").text, {"path": sys.argv[3]})
print(time.monotonic() - start)
"""


# Runs a module as __main__ and writes its own peak RSS (KiB) to the file named first. VmHWM, not ru_maxrss:
# Linux carries ru_maxrss over fork and exec, so a child would report its parent's peak if that was higher.
PEAK = """
import atexit, re, runpy, sys
out, sys.argv = sys.argv[1], sys.argv[2:]
def peak():
    status = open("/proc/self/status").read()
    open(out, "w").write(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))
atexit.register(peak)
runpy.run_module(sys.argv[0], run_name="__main__") if sys.argv[0] != "-c" else exec(sys.argv[1])
"""


def _measure(arguments: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB of that one process, and stdout; ``arguments`` follow ``python -m``."""
    with tempfile.NamedTemporaryFile("r") as peak:
        start = time.monotonic()
        command = [sys.executable, "-c", PEAK, peak.name, *arguments]
        result = subprocess.run(command, cwd=ROOT, capture_output=True)
        elapsed = time.monotonic() - start
        if result.returncode != 0:
            raise RuntimeError(f"{arguments[:3]} failed: {result.stderr.decode()[-2000:]}")
        return elapsed, int(peak.read()) / 1024, result.stdout.decode()


def bench(rows: int, workdir: Path) -> dict[str, object]:
    """Generate ``rows`` synthetic requests, then time the native load and routewatch ingest."""
    from ingest.synthetic import generate, write_jsonl

    path = workdir / f"traffic-{rows}.jsonl"
    if not path.exists():
        write_jsonl(generate(rows, seed=1), path)
    native_s, native_mb, _ = _measure(["-c", NATIVE, f"chdb://{workdir / f'native-{rows}'}", str(path)])
    store = f"chdb://{workdir / f'store-{rows}'}"
    cli = ["cli", "ingest", str(path), "--json", "--store", store]
    ingest_s, ingest_mb, out = _measure(cli)
    summary = json.loads(out)
    assert summary["loaded"] == rows, summary
    return {
        "rows": rows,
        "file_mb": round(path.stat().st_size / 2**20),
        "native_s": round(native_s, 2),
        "ingest_s": round(ingest_s, 2),
        "ratio": round(ingest_s / native_s, 2),
        "ingest_peak_mb": round(ingest_mb),
        "native_peak_mb": round(native_mb),
    }


def print_table(results: list[dict[str, object]], command: str) -> None:
    """Print the machine, the date, the command and the results as a Markdown table for BENCHMARKS.md."""
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"date: {datetime.now(UTC):%Y-%m-%d}; command: {command}\n")
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.out or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        results = [bench(rows, workdir) for rows in args.rows]
    print_table(results, f"python bench/ingest.py --rows {' '.join(map(str, args.rows))}")


if __name__ == "__main__":
    main()

"""Benchmark: a capacity model from measurements. Bytes per request on disk, ingest rows per second per core, and
the cost of each dashboard page's query set and of `routewatch decide`, per million requests and per hundred
thousand users; from them, the shards and cores a team needs at 10M, 100M and 1B requests a month.

For each size it writes N synthetic requests over 7 days (about 25 per user), ingests them into a fresh embedded
store (wall and CPU seconds of the process: chDB works in-process, so the CPU seconds are the engine's and
Python's together), compacts the store, reads the parts' compressed bytes from system.parts, runs `decide` over
language, channel and tier (every closed day) and times each dashboard page's questions (bench/metrics.py's
AppTest harness). Costs grow linearly with the rows a query reads; two sizes give each cost's fixed part and its
part per million requests, which the projection scales.
Usage: python bench/capacity.py [--rows 100000 400000] [--out bench/out]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on sys.path; the packages live in the project root.
sys.path[0] = str(ROOT)

from alerts.judge import decide  # noqa: E402
from bench.metrics import page_query_sets  # noqa: E402
from ingest.load import ingest  # noqa: E402
from ingest.synthetic import generate, write_jsonl  # noqa: E402
from metrics.calibration import calibration  # noqa: E402
from metrics.gaps import gap_table  # noqa: E402
from metrics.registry import compute  # noqa: E402
from routewatch.maintenance import compact  # noqa: E402
from routewatch.sqlfiles import query  # noqa: E402
from routewatch.store import Store  # noqa: E402

MONTHLY = (10_000_000, 100_000_000, 1_000_000_000)
DAYS_A_MONTH = 30  # 2,592,000 seconds


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(rows: int, workdir: Path) -> dict[str, float]:
    """Every measurement on a fresh store of ``rows`` requests."""
    path = write_jsonl(generate(rows, seed=rows % 997, days=7), workdir / f"capacity-{rows}.jsonl")
    home = workdir / f"capacity-store-{rows}"
    shutil.rmtree(home, ignore_errors=True)
    store = Store(f"chdb://{home}")
    wall, cpu = time.perf_counter(), _cpu_seconds()
    ingest(store, [str(path)])
    wall, cpu = time.perf_counter() - wall, _cpu_seconds() - cpu
    compact(store)
    volume = compute(store, "volume")
    requests, users = int(volume["requests"].sum()), int(volume["users"].sum())
    parts = store.query_df(query("capacity_parts").text)
    found = {
        "rows": rows,
        "requests": requests,
        "users": users,
        "ingest_wall_s": wall,
        "ingest_cpu_s": cpu,
        "bytes_compressed": float(parts["compressed_bytes"].sum()),
        "bytes_uncompressed": float(parts["uncompressed_bytes"].sum()),
        "bytes_requests_table": float(parts.loc[parts["table"] == "requests", "compressed_bytes"].sum()),
    }
    started = time.perf_counter()
    run = decide(store, ["language", "channel", "tier"])
    found["decide_s"] = time.perf_counter() - started
    found["decide_windows"] = len(run.windows)
    found["decide_s_per_window"] = found["decide_s"] / max(1, len(run.windows))
    found["requests_per_window"] = requests / max(1, len(run.windows))
    for page, seconds, _, _ in page_query_sets(store):  # as the dashboard finds the store: decided
        found[f"page {page}"] = seconds
    # The two answers that dominate the Segments and Second-class pages, apart: the gap table (SQL over every
    # user, then statistics on per-segment sums) and the score calibration (a clustered logit per segment, fitted
    # in Python on request rows).
    for name, answer in (
        ("gap table, language", lambda: gap_table(store, ["language"])),
        ("calibration, language", lambda: calibration(store, "language")),
    ):
        started = time.perf_counter()
        answer()
        found[name] = time.perf_counter() - started
    path.unlink()
    shutil.rmtree(home, ignore_errors=True)
    for name, value in found.items():
        print(f"{rows:,} {name}: {value:,.3f}", file=sys.stderr, flush=True)
    return found


def _line(small: dict[str, float], large: dict[str, float], key: str, per: str = "requests") -> tuple[float, float]:
    """A cost's fixed seconds and seconds per million ``per`` (requests or users), through the two sizes."""
    slope = (large[key] - small[key]) / max(large[per] - small[per], 1) * 1e6
    return max(0.0, small[key] - slope * small[per] / 1e6), max(slope, 0.0)


def main() -> None:
    """Measure at two sizes and print Markdown for BENCHMARKS.md and the README's capacity table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs=2, default=[100_000, 400_000])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--window-days", type=int, default=14, help="the dashboard's default range")
    parser.add_argument("--target-s", type=float, default=1.0, help="a page's query set on one shard")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    small, large = (measure(rows, args.out) for rows in args.rows)
    cores = os.cpu_count() or 1
    print(f"machine: {platform.machine()}, {cores} cores, Python {platform.python_version()}")
    print(
        f"date: {datetime.now(UTC):%Y-%m-%d}; command: python bench/capacity.py --rows {args.rows[0]} {args.rows[1]}\n"
    )
    print(
        "| measured | " + " | ".join(f"{int(m['rows']):,} requests, {int(m['users']):,} users" for m in (small, large))
    )
    print("|---|---:|---:|")
    rows = [
        ("on disk, compressed, bytes per request (all tables)", lambda m: m["bytes_compressed"] / m["requests"]),
        ("of which the requests table", lambda m: m["bytes_requests_table"] / m["requests"]),
        ("uncompressed, bytes per request", lambda m: m["bytes_uncompressed"] / m["requests"]),
        ("ingest, wall seconds", lambda m: m["ingest_wall_s"]),
        ("ingest, requests per second (wall, all cores)", lambda m: m["requests"] / m["ingest_wall_s"]),
        ("ingest, requests per CPU second (per core)", lambda m: m["requests"] / m["ingest_cpu_s"]),
        *(
            (f"{key}: its query set, s", lambda m, k=key: m[k])
            for key in sorted(k for k in large if k.startswith("page "))
        ),
        ("gap table of language (the Segments page's), s", lambda m: m["gap table, language"]),
        ("calibration of language (Segments, Second-class), s", lambda m: m["calibration, language"]),
        ("decide: closed days judged", lambda m: m["decide_windows"]),
        ("decide: seconds per day judged", lambda m: m["decide_s_per_window"]),
    ]
    for label, value in rows:
        print(f"| {label} | {value(small):,.3f} | {value(large):,.3f} |")
    pages = sorted(k for k in large if k.startswith("page "))
    print("\n| cost | fixed s | s per million requests | s per 100k users |")
    print("|---|---:|---:|---:|")
    for key in [*pages, "gap table, language", "calibration, language", "decide_s_per_window"]:
        per = "requests_per_window" if key == "decide_s_per_window" else "requests"
        fixed, per_million = _line(small, large, key, per)
        requests_per_user = large["requests"] / large["users"]  # synthetic traffic: users grow with requests
        per_100k_users = per_million / 1e6 * requests_per_user * 1e5
        print(f"| {key} | {fixed:.3f} | {per_million:.3f} | {per_100k_users:.3f} |")
    # The projection: the store-bound answers scale out (each shard reads its own rows, per-segment sums travel);
    # statistics fitted in Python on request rows (calibration) and decide's per-day statistics run on one node.
    store_pages = [p for p in pages if p not in ("page segments", "page second_class")]
    worst = max(store_pages, key=lambda k: _line(small, large, k)[1])
    per_byte = large["bytes_compressed"] / large["requests"]
    per_core = large["requests"] / large["ingest_cpu_s"]
    print(f"\nprojection: over the {args.window_days}-day default range, each shard a {cores}-core machine like this;")
    print(f"shards: how many keep the answer under {args.target_s:g} s (its part per million requests divided among")
    print(f"them); slowest store-bound page: {worst}")
    print(
        "| requests a month | compressed on disk a month (x2 with replicas) | ingest cores at 10x the mean rate |"
        " slowest store-bound page, one shard (s) | shards for it | gap table, one shard (s) | shards for it |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for monthly in MONTHLY:
        window = monthly / DAYS_A_MONTH * args.window_days / 1e6
        cells = [f"{monthly:,}", f"{per_byte * monthly / 1e9:,.1f} GB", f"{10 * monthly / 2_592_000 / per_core:.2f}"]
        for key in (worst, "gap table, language"):
            fixed, slope = _line(small, large, key)
            shards = math.ceil(slope * window / (args.target_s - fixed)) if args.target_s > fixed else "-"
            cells += [f"{fixed + slope * window:,.1f}", str(max(1, shards) if isinstance(shards, int) else shards)]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

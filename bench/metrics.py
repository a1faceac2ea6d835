"""Benchmark: metric queries, each dashboard page's query set and the gap table at 1M and 10M requests, against
pandas on the same rows.

Builds (or reuses) an embedded store of N synthetic requests per size, then times each metric by route, by
language and by day; every question each dashboard page asks the store on a first visit at its default filters
(the page run by Streamlit's AppTest with no answer cached and the store open, every answer timed); the gap
table over ``account_id`` (about 50 segments); and the same metrics in pandas.
Usage: python bench/metrics.py [--rows 1000000 10000000] [--out bench/out] [--sections metrics decide pages gaps]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on sys.path; the packages live in the project root.
sys.path[0] = str(ROOT)

import pandas as pd  # noqa: E402

from alerts.judge import decide  # noqa: E402
from ingest.load import ingest  # noqa: E402
from ingest.synthetic import generate, write_jsonl  # noqa: E402
from metrics import overview  # noqa: E402
from metrics.gaps import gap_table  # noqa: E402
from metrics.registry import METRICS, compute  # noqa: E402
from routewatch.maintenance import compact  # noqa: E402
from routewatch.store import Store  # noqa: E402

NAMES = {m.name for m in METRICS}
CUTS: list[tuple[str, dict[str, object]]] = [
    ("by route", {"by": ["route"]}),
    ("by language", {"by": ["language"]}),
    ("daily", {"bucket": "day"}),
]


def _best_of(runs: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def build(rows: int, workdir: Path) -> tuple[Store, Path]:
    """A store with ``rows`` synthetic requests (reused when it exists), and the JSONL it was loaded from."""
    path = workdir / f"traffic-{rows}.jsonl"
    store = Store(f"chdb://{workdir / f'metrics-store-{rows}'}")
    if not path.exists():
        for part in range(0, rows, 1_000_000):  # in parts, to bound the generator's memory; each with its own users
            traffic = generate(min(1_000_000, rows - part), seed=part + 1, first_user=part)
            write_jsonl(traffic, workdir / f"part-{rows}-{part:010d}.jsonl")
        with path.open("wb") as out:
            for piece in sorted(workdir.glob(f"part-{rows}-*.jsonl")):
                out.write(piece.read_bytes())
                piece.unlink()
    if not (workdir / f"metrics-store-{rows}").exists():
        ingest(store, [str(path)])
    return store, path


def page_query_sets(store: Store) -> list[tuple[str, float, int, str]]:
    """Per dashboard page: the seconds spent answering its questions on a first visit, how many it asked, and the
    slowest. The page runs in Streamlit's AppTest with no answer cached, the store already open (as the
    dashboard keeps it between pages); every answer is timed where it is asked."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from app import context

    os.environ["ROUTEWATCH_STORE"] = store.dsn
    spent: list[tuple[str, float]] = []
    originals = dict(context.ANSWERS)

    def timed(name: str, answer: Callable[..., object]) -> Callable[..., object]:
        def run(*args: object, **kwargs: object) -> object:
            start = time.perf_counter()
            try:
                return answer(*args, **kwargs)
            finally:
                spent.append((name, time.perf_counter() - start))

        return run

    context.ANSWERS.update({name: timed(name, answer) for name, answer in originals.items()})
    results = []
    try:
        st.cache_resource.clear()
        context.store().query_rows("SELECT 1")  # a running dashboard keeps its store open between pages
        for page in sorted((ROOT / "app" / "app_pages").glob("[a-z]*.py")):
            st.cache_data.clear()
            spent.clear()
            app = AppTest.from_file(str(ROOT / "app" / "streamlit_app.py"), default_timeout=600)
            app.switch_page(f"app_pages/{page.name}").run()
            if app.exception:
                raise RuntimeError(f"{page.name}: {app.exception[0].value}")
            slowest = max(spent, key=lambda item: item[1])
            results.append((page.stem, sum(t for _, t in spent), len(spent), f"{slowest[0]} {slowest[1]:.3f} s"))
    finally:
        context.ANSWERS.update(originals)
    return results


def _decide(store: Store, rows: int) -> list[dict[str, object]]:
    """``routewatch decide`` over every day of the store, from scratch (``--redo-from`` its first day): the verdicts
    of each day, then the stored trailing windows; and a Segments view that is no stored window (ten days), which
    the page computes on request."""
    span = overview.data_range(store)
    first, last = span.first_day, span.last_day
    assert first is not None and last is not None
    start = time.perf_counter()
    run = decide(store, ["language", "channel", "tier"], redo_from=first)
    total = time.perf_counter() - start
    assert run.trailing is not None
    trailing = run.trailing
    since, until = overview.whole_days(last - timedelta(days=9), last)
    custom = _best_of(1, lambda: gap_table(store, ["language"], since=since, until=until))
    rows_of = [
        (f"decide: verdicts of {len(run.windows)} days (language, channel, tier)", total - trailing.seconds),
        (f"decide: {trailing.computed} trailing windows, {trailing.tables} tables", trailing.seconds),
        ("Segments, a custom view (10 days, language): its gap table", custom),
    ]
    for what, seconds in rows_of:
        print(f"{rows:,} {what}: {seconds:.3f} s", file=sys.stderr, flush=True)
    return [{"rows": rows, "what": what, "seconds": round(seconds, 3)} for what, seconds in rows_of]


SECTIONS = ("metrics", "decide", "pages", "gaps")


def bench(rows: int, workdir: Path, sections: tuple[str, ...] = SECTIONS) -> list[dict[str, object]]:
    """Time every metric in three cuts, decide, every page's questions, the gap table, and pandas on the same rows
    (``sections`` narrows it)."""
    store, path = build(rows, workdir)
    results: list[dict[str, object]] = []
    partitions, seconds = compact(store)
    results.append({"rows": rows, "what": f"compact ({partitions} partitions)", "seconds": round(seconds, 3)})
    for metric in METRICS if "metrics" in sections else []:
        for label, cut in CUTS:
            seconds = _best_of(3, lambda m=metric.name, c=cut: compute(store, m, **c))  # type: ignore[misc]
            results.append({"rows": rows, "what": f"{metric.name} {label}", "seconds": round(seconds, 3)})
            print(f"{rows:,} {metric.name} {label}: {seconds:.3f} s", file=sys.stderr, flush=True)
    if "decide" in sections:
        results.extend(_decide(store, rows))
    for page, seconds, questions, slowest in page_query_sets(store) if "pages" in sections else []:
        what = f"page {page}: its {questions} questions"
        results.append({"rows": rows, "what": what, "seconds": round(seconds, 3)})
        print(f"{rows:,} {what}: {seconds:.3f} s, slowest {slowest}", file=sys.stderr, flush=True)
    if "gaps" in sections:
        results.extend(_gap_tables(store, rows, path))
    return results


def _gap_tables(store: Store, rows: int, path: Path) -> list[dict[str, object]]:
    """The 59-segment gap table over every row, and pandas on the same rows (1M only)."""
    results: list[dict[str, object]] = []
    # The first run reads columns no metric above read (the user key, the account): timed apart from the best of
    # three that follow, as every cut above is.
    first = _best_of(1, lambda: gap_table(store, ["account_id"]))
    best = _best_of(3, lambda: gap_table(store, ["account_id"]))
    segments = gap_table(store, ["account_id"])["segment"].nunique()
    for label, seconds in (("first run", first), ("best of three", best)):
        what = f"gap table, account_id ({segments} segments), {label}"
        results.append({"rows": rows, "what": what, "seconds": round(seconds, 3)})
    if rows <= 1_000_000:
        frame = pd.read_json(path, lines=True)
        start = time.perf_counter()
        frame.groupby("route").agg(requests=("request_id", "size"), cost=("cost_usd", "sum"))
        frame.groupby("language")["latency_ms"].quantile([0.5, 0.95, 0.99])
        frame.groupby("language")["escalated"].mean()
        results.append(
            {
                "rows": rows,
                "what": "pandas: volume, latency, escalation",
                "seconds": round(time.perf_counter() - start, 3),
            }
        )
    return results


def main() -> None:
    """Run the benchmark and print Markdown for BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="what to time")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = [r for rows in args.rows for r in bench(rows, args.out, tuple(args.sections))]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        f"date: {datetime.now(UTC):%Y-%m-%d}; command: python bench/metrics.py --rows {' '.join(map(str, args.rows))} "
        f"--sections {' '.join(args.sections)}\n"
    )
    table = pd.DataFrame(results).pivot_table(index="what", columns="rows", values="seconds", aggfunc="first")
    print("| query | " + " | ".join(f"{c:,} rows (s)" for c in table.columns) + " |")
    print("|---|" + "---|" * len(table.columns))
    for what, values in table.iterrows():
        print(f"| {what} | " + " | ".join(f"{v:.3f}" for v in values) + " |")
    for rows in args.rows:
        queries = [
            float(str(r["seconds"])) for r in results if r["rows"] == rows and str(r["what"]).split()[0] in NAMES
        ]
        if queries:
            print(
                f"{rows:,} rows: median metric query {statistics.median(queries):.3f} s, slowest {max(queries):.3f} s"
            )


if __name__ == "__main__":
    main()

"""Benchmark: time from navigation to a rendered page, in Debian's Chromium, at 1M and 10M requests.

For each store size it serves `routewatch dashboard` (as a user would), then visits every page twice: first
with nothing cached (the page's queries run), then again within the cache's lifetime. "Rendered" means the
script has finished and the page's plotly charts are drawn. Stores are built by bench/metrics.py and reused.
Usage: python bench/dashboard.py [--rows 1000000 10000000] [--out bench/out]
"""

from __future__ import annotations

import argparse
import platform
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on sys.path; the packages live in the project root.
sys.path[0] = str(ROOT)

from alerts.judge import decide  # noqa: E402
from bench.metrics import build  # noqa: E402
from tests.browser import PAGES, browser, dashboard, open_page  # noqa: E402

TARGET_S = 3.0


def bench(rows: int, workdir: Path) -> list[dict[str, object]]:
    """Cold and warm navigation times of every page on a store of ``rows`` requests."""
    store, _ = build(rows, workdir)
    decide(store, ["language", "channel", "tier"])  # as the daily job leaves it (idempotent)
    results: list[dict[str, object]] = []
    with dashboard(store.dsn, workdir / f"dashboard-{rows}.log") as base, browser() as chromium:
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        # The server's first session (imports, the store's first open) on another window than the default one,
        # so that the pages below find nothing of theirs cached.
        open_page(page, f"{base}/health?since=2026-10-04&until=2026-10-04", charts=0)
        for visit in ("cold", "warm"):
            for path, title in PAGES.items():
                seconds = open_page(page, f"{base}/{path}")
                errors = (
                    page.locator("[data-testid='stException']").count() + page.get_by_text("could not be drawn").count()
                )
                results.append({"rows": rows, "page": title, "visit": visit, "seconds": seconds, "errors": errors})
                print(f"{rows:>11,} {title:<20} {visit:<5} {seconds:6.2f} s", flush=True)
    return results


def main() -> None:
    """Run the benchmark and print a Markdown table for BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = [r for rows in args.rows for r in bench(rows, args.out)]
    print(
        f"\n{date.today()} on {platform.node()} ({platform.processor() or platform.machine()}), Python "
        f"{platform.python_version()}; target: every page under {TARGET_S:.0f} s\n"
    )
    print("| requests | page | first visit (s) | within the cache TTL (s) | error elements |")
    print("|---:|---|---:|---:|---:|")
    for rows in args.rows:
        for title in PAGES.values():
            cold, warm = (
                next(r for r in results if r["rows"] == rows and r["page"] == title and r["visit"] == v)
                for v in ("cold", "warm")
            )
            print(f"| {rows:,} | {title} | {cold['seconds']:.2f} | {warm['seconds']:.2f} | {cold['errors']} |")


if __name__ == "__main__":
    main()

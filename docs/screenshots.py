"""Screenshots of every dashboard page, as the README shows them: `make screenshots`.

Serves the dashboard on the demo's store (``ROUTEWATCH_STORE`` or the default store of this checkout; run
``make demo`` or ``routewatch demo --no-serve`` first) and photographs each page's first screen in Debian's
Chromium, driven by Playwright, into docs/screenshots/<page>.png.

    python docs/screenshots.py [--out docs/screenshots] [--width 1400] [--height 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from routewatch.settings import load_settings  # noqa: E402
from tests.browser import PAGES, browser, dashboard, open_page  # noqa: E402

# Every page of the navigation (the alerts page has no chart to wait for).
SHOTS = {**PAGES, "alerts": "Alerts"}
CHARTS = {"alerts": 0, "second_class": 0, "health": 0}


def main() -> int:
    """Photograph every page; print each file written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1000)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    dsn = os.environ.get("ROUTEWATCH_STORE") or load_settings().store_dsn
    with (
        tempfile.TemporaryDirectory() as tmp,
        dashboard(dsn, Path(tmp) / "dashboard.log") as base,
        browser() as chromium,
    ):
        page = chromium.new_page(viewport={"width": args.width, "height": args.height})
        for path, title in SHOTS.items():
            open_page(page, f"{base}/{path}", charts=CHARTS.get(path, 1))
            target = args.out / f"{path or 'overview'}.png"
            page.screenshot(path=str(target))
            print(f"{title}: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

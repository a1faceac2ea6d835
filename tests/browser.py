"""A real browser on a real dashboard: serve `routewatch dashboard` on a free port and drive Debian's Chromium.

Shared by the end-to-end tests and bench/dashboard.py. Playwright drives the system Chromium
(``executable_path``), never a browser of its own download.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Without the background-networking flags Chromium keeps dialling Google on this closed network.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# URL path of every page in the navigation (st.navigation names them after their files), with its title.
PAGES = {
    "": "Overview",
    "routes": "Routes and latency",
    "segments": "Segments",
    "second_class": "Second-class users",
    "costs": "Costs",
    "shadow": "Shadow router",
    "health": "Data health",
}


def chromium_path() -> str | None:
    """The system Chromium, if installed (``apt-get install chromium``)."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_serving(base: str, server: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    """Wait until the dashboard at ``base`` answers its health check; RuntimeError if ``server`` exits first or
    ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the dashboard did not start; see {log}")
        time.sleep(0.3)


@contextmanager
def dashboard(
    dsn: str, log: Path, timeout_s: float = 90, command: tuple[str, ...] | None = None, cwd: Path = ROOT
) -> Iterator[str]:
    """Serve the dashboard on ``dsn`` (as a user would: the CLI in a subprocess) and yield its base URL.

    ``command``: how to call routewatch (default: this checkout's, through this Python), run in ``cwd``."""
    port = free_port()
    env = {**os.environ, "ROUTEWATCH_STORE": dsn}
    routewatch = list(command or (sys.executable, "-m", "cli"))
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*routewatch, "dashboard", "--port", str(port), "--address", "127.0.0.1"],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(base, server, log, timeout_s)
            yield base
        finally:
            os.killpg(server.pid, 15)
            server.wait(timeout=30)


@contextmanager
def browser() -> Iterator[Any]:
    """A headless Debian Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        raise RuntimeError("no chromium on this machine: apt-get install chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def open_page(page: Any, url: str, charts: int = 1, timeout_s: float = 120) -> float:
    """Go to ``url`` and wait until the script has finished and ``charts`` plotly charts are drawn; seconds taken."""
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout_s * 1000)
    if charts:
        page.wait_for_function(
            "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n",
            arg=charts,
            timeout=timeout_s * 1000,
        )
    return time.perf_counter() - start

"""``dashboard``: serve the Streamlit dashboard as a child process that a signal always stops."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

from cli.common import EXIT_OK, Parents, open_store, say
from routewatch.settings import Settings


def cmd_dashboard(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the Streamlit dashboard on the store until interrupted."""
    return serve_dashboard(settings, args.port, args.address)


def serve_dashboard(settings: Settings, port: int, address: str = "localhost") -> int:
    """Run the Streamlit dashboard (app/streamlit_app.py) on ``port`` with this invocation's store and settings."""
    from app.serve import streamlit_command

    env = dict(os.environ, ROUTEWATCH_STORE=settings.store_dsn)
    config = Path(os.environ.get("ROUTEWATCH_CONFIG", "routewatch.toml")).resolve()
    if config.is_file():
        env["ROUTEWATCH_CONFIG"] = str(config)
    say(f"routewatch dashboard: http://{address}:{port} (store {open_store(settings).display}); Ctrl+C stops it")
    return run_child(subprocess.Popen(streamlit_command(port, address), env=env))


def run_child(child: subprocess.Popen[bytes], grace_s: float = 10.0) -> int:
    """Wait for ``child``; SIGTERM or SIGINT to this process stops it first (SIGTERM, then SIGKILL after
    ``grace_s``), so that a service manager, a container runtime or Ctrl+C leaves no server holding the port and
    the store. Returns the child's exit code, or 0 when it was stopped on request."""
    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        stopping.set()
        if child.poll() is None:
            child.terminate()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            try:
                code = child.wait(timeout=grace_s) if stopping.is_set() else child.wait()
                break
            except subprocess.TimeoutExpired:
                child.kill()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child.poll() is None:  # leaving for any other reason (an exception): never leave the server behind
            child.kill()
            child.wait()
    return EXIT_OK if stopping.is_set() else code


def register(sub: Any, parents: Parents) -> None:
    """Add ``dashboard`` to the command line."""
    dashboard = sub.add_parser("dashboard", parents=[parents.common], help="serve the dashboard (read-only)")
    dashboard.add_argument("--port", type=int, default=8501)
    dashboard.add_argument("--address", default="localhost", help="interface to listen on (0.0.0.0: every one)")
    dashboard.set_defaults(run=cmd_dashboard)

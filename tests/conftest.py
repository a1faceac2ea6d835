"""Shared fixtures: a fresh embedded store per test, synthetic traffic files, and the CLI as a subprocess."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ingest.synthetic import generate, write_jsonl
from routewatch.store import Store

ROOT = Path(__file__).resolve().parent.parent
REAL_DATA = ROOT.parent / "shared" / "data" / "real"
# The embedded engine keeps about 25 threads and 50 file descriptors of every store a process has opened, after
# the store is closed. A routewatch process opens one store; this test process opens hundreds (a fresh one per
# test), so it raises its own descriptor limit as far as it may.
WANTED_DESCRIPTORS = 1 << 18


def pytest_configure(config: pytest.Config) -> None:
    """Raise this process's limit of open files (the hard limit too where permitted, as root in CI)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, WANTED_DESCRIPTORS), max(hard, WANTED_DESCRIPTORS)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """An empty embedded store in a temporary directory."""
    return Store(f"chdb://{tmp_path / 'store'}", lock_timeout_s=30)


@pytest.fixture(scope="session")
def synthetic_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """5,000 synthetic requests as JSONL (seed 7)."""
    return write_jsonl(generate(5_000, seed=7), tmp_path_factory.mktemp("synthetic") / "traffic.jsonl")


def run_cli(
    *args: str,
    store: Store | None = None,
    stdin: bytes | None = None,
    timeout: float = 120,
    env_extra: dict[str, str] | None = None,
) -> Any:
    """Run ``routewatch`` in a subprocess; returns the CompletedProcess (text stdout and stderr)."""
    env = {**os.environ, **(env_extra or {})}
    if store is not None:
        env["ROUTEWATCH_STORE"] = store.dsn
    result = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
    )
    result.stdout = result.stdout.decode("utf-8", errors="replace")
    result.stderr = result.stderr.decode("utf-8", errors="replace")
    return result


def cli_json(*args: str, store: Store | None = None) -> Any:
    """Run the CLI and parse its stdout as JSON, failing with stderr on a non-zero exit."""
    result = run_cli(*args, store=store)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def write_lines(path: Path, lines: list[str | bytes]) -> Path:
    """Write raw lines (str or bytes) to ``path``."""
    with path.open("wb") as out:
        for line in lines:
            out.write((line if isinstance(line, bytes) else line.encode()) + b"\n")
    return path


def good_record(request_id: str, **overrides: Any) -> dict[str, Any]:
    """A minimal valid canonical record."""
    record: dict[str, Any] = {
        "request_id": request_id,
        "ts": "2026-10-01T12:00:00Z",
        "user_id": "u-1",
        "route": "cheap",
        "model": "small-1",
        "cost_usd": 0.001,
        "latency_ms": 420.0,
    }
    record.update(overrides)
    return record


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A store as `routewatch demo` leaves it: 350,000 synthetic requests (seed 11), loaded and decided."""
    from alerts.judge import decide
    from ingest.load import ingest

    folder = tmp_path_factory.mktemp("demo")
    store = Store(f"chdb://{folder / 'store'}", lock_timeout_s=60)
    ingest(store, [str(write_jsonl(generate(350_000, seed=11), folder / "traffic.jsonl"))])
    decide(store, ["language"])
    return store


@pytest.fixture(scope="session")
def synthetic_store(synthetic_file: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Any]:
    """The 5,000 synthetic requests in a store and, read independently, as a pandas frame."""
    import pandas as pd

    from ingest.load import ingest

    store = Store(f"chdb://{tmp_path_factory.mktemp('synthetic-store') / 'store'}", lock_timeout_s=60)
    ingest(store, [str(synthetic_file)])
    frame = pd.read_json(synthetic_file, lines=True, precise_float=True, dtype={"resolved": object})
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601")
    return store, frame


@pytest.fixture(scope="session")
def planted_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Any]:
    """40,000 synthetic requests over 14 days (seed 3) in a store and, as generated, a pandas frame with the
    all-in cost (``all_in``) and resolved requests (``resolved_n``, unknown as not resolved) of each request."""
    from ingest.load import ingest

    folder = tmp_path_factory.mktemp("planted")
    frame = generate(40_000, seed=3, days=14)
    store = Store(f"chdb://{folder / 'store'}", lock_timeout_s=60)
    ingest(store, [str(write_jsonl(frame, folder / "traffic.jsonl"))])
    frame["all_in"] = frame["cost_usd"] + frame["router_cost_usd"] + frame["human_cost_usd"]
    frame["resolved_n"] = frame["resolved"].map(lambda v: v is True).astype(float)
    return store, frame

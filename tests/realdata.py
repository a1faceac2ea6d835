"""Real public traffic from ../shared/data/real, mapped onto the canonical record for tests and benchmarks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REAL_DATA

LLMPERF = REAL_DATA / "llmperf_leaderboard" / "raw_data"
# The real data sits in ../shared beside the checkout (as in CI); elsewhere the tests that need it skip.
needs_real_data = pytest.mark.skipif(not LLMPERF.is_dir(), reason=f"real data not found at {LLMPERF}")
_ERRORS = {-100: "output_too_short", -1: "other"}


def llmperf_records() -> list[dict[str, Any]]:
    """One canonical record per llmperf request; the route is provider_size, the model the provider's id."""
    records = []
    for path in sorted((LLMPERF / "individual").glob("*.json")):
        summary = json.loads((LLMPERF / "summary" / path.name).read_text())
        for i, request in enumerate(json.loads(path.read_text())):
            code = request.get("error_code")
            records.append(
                {
                    "request_id": f"{path.stem}-{i}",
                    "ts": summary["timestamp"] + i,
                    "user_id": f"llmperf-{path.stem}",
                    "route": path.stem,
                    "model": summary["model"],
                    "cost_usd": 0,
                    "latency_ms": (request.get("end_to_end_latency_s") or 0) * 1000,
                    "ttft_ms": (request.get("ttft_s") or 0) * 1000,
                    "input_tokens": request.get("number_input_tokens") or 0,
                    "output_tokens": request.get("number_output_tokens") or 0,
                    "status": "ok" if code is None else "error",
                    "error_type": "" if code is None else _ERRORS.get(code, f"http_{code}"),
                }
            )
    return records


def write_llmperf(path: Path) -> Path:
    """Write the llmperf records as canonical JSONL."""
    path.write_text("".join(json.dumps(r) + "\n" for r in llmperf_records()), encoding="utf-8")
    return path

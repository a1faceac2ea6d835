"""Benchmark: ingest of LiteLLM spend logs and of OTLP spans against the canonical ingest of the same requests.

For N spend-log rows (one request each) and for N OTLP spans (a fifth of the traces have a failed cheap call and
an escalated one), routewatch's own reader gives the canonical records of those requests; they are written as
canonical JSONL too, and each file is ingested by `routewatch ingest` in its own process on a fresh embedded
store (wall seconds, peak RSS of that process).
Usage: python bench/sources.py [--rows 1000000] [--out bench/out]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # this file's folder would hide the `ingest` package
from bench.ingest import _fresh_store, _measure, print_table  # noqa: E402

T0_NS = 1_790_000_000_000_000_000


def _spend_rows(rows: int, path: Path) -> None:
    rng = random.Random(1)
    models = ("gpt-4o-mini", "gpt-4o", "claude-3-5-haiku-20241022")
    with path.open("wb") as out:
        for i in range(rows):
            start = datetime.fromtimestamp(T0_NS / 1e9 + i * 0.01, UTC).replace(tzinfo=None)
            metadata: dict[str, Any] = {"spend_logs_metadata": {"language": rng.choice(("en", "es", "hi"))}}
            if i % 10 == 0:
                metadata.update(attempted_fallbacks=1, original_model_group="gpt-4o-mini", attempted_retries=1)
            row = {
                "request_id": f"chatcmpl-{i}", "call_type": "acompletion", "spend": round(rng.random() / 100, 6),
                "prompt_tokens": rng.randrange(2000), "completion_tokens": rng.randrange(500),
                "startTime": start.isoformat(sep=" "), "endTime": start.isoformat(sep=" "),
                "model": models[i % 3], "model_group": models[i % 3], "user": "key-owner",
                "end_user": f"user-{i % 5000}", "metadata": json.dumps(metadata), "request_tags": "[]",
                "status": "success",
            }  # fmt: skip
            out.write(orjson.dumps(row) + b"\n")


def _attr(key: str, value: Any) -> dict[str, Any]:
    kind = "intValue" if isinstance(value, int) else "doubleValue" if isinstance(value, float) else "stringValue"
    return {"key": key, "value": {kind: str(value) if kind == "intValue" else value}}


def _otlp_spans(spans: int, path: Path) -> None:
    """JSON Lines of TracesData, 100 spans a line (as the collector's file exporter batches them)."""
    rng = random.Random(2)
    batch: list[dict[str, Any]] = []
    trace, written = 0, 0
    with path.open("wb") as out:
        while written < spans:
            trace += 1
            start = T0_NS + trace * 10_000_000
            escalated = trace % 5 == 0 and written + 2 <= spans
            calls = [("gpt-4o-mini", True), ("gpt-4o", False)] if escalated else [(rng.choice(("gpt-4o-mini",
                     "gpt-4o")), False)]  # fmt: skip
            for number, (model, failed) in enumerate(calls):
                attrs = [
                    _attr("gen_ai.request.model", model), _attr("gen_ai.usage.input_tokens", rng.randrange(2000)),
                    _attr("gen_ai.usage.output_tokens", 0 if failed else rng.randrange(500)),
                    _attr("user.id", f"user-{trace % 5000}"),
                ]  # fmt: skip
                if failed:
                    attrs.append(_attr("error.type", "429"))
                span: dict[str, Any] = {"traceId": f"{trace:032x}", "spanId": f"{trace * 2 + number:016x}",
                        "startTimeUnixNano": str(start + number * 1_000_000),
                        "endTimeUnixNano": str(start + (number + 1) * 1_000_000), "attributes": attrs}  # fmt: skip
                if failed:
                    span["status"] = {"code": 2}
                batch.append(span)
                written += 1
            if len(batch) >= 100 or written >= spans:
                document = {"resourceSpans": [{"resource": {"attributes": [_attr("service.name", "chat")]},
                                               "scopeSpans": [{"spans": batch}]}]}  # fmt: skip
                out.write(orjson.dumps(document) + b"\n")
                batch = []


def _canonical(source_path: Path, fmt: str, path: Path) -> int:
    """The canonical records routewatch's reader makes of ``source_path``, written as canonical JSONL."""
    from ingest.readers import resolve
    from ingest.sources import chunks

    count = 0
    with path.open("wb") as out:
        for chunk in chunks(resolve([str(source_path)], fmt)[0], 100_000):
            for line in chunk.text.splitlines():
                record = orjson.loads(line)
                record.pop("__line")
                out.write(orjson.dumps(record) + b"\n")
                count += 1
    return count


def _ingest(path: Path, store: str) -> tuple[float, float, dict[str, Any]]:
    child = _measure(["cli", "ingest", str(path), "--json", "--store", store])
    return child.wall_s, child.peak_mb, json.loads(child.stdout)


def bench(rows: int, workdir: Path) -> list[dict[str, object]]:
    """Time both sources and their canonical equivalents."""
    results: list[dict[str, object]] = []
    for name, make, fmt in (("litellm", _spend_rows, "litellm"), ("otlp", _otlp_spans, "otlp")):
        source = workdir / f"{name}-{rows}.jsonl"
        make(rows, source)
        canonical = workdir / f"{name}-{rows}-canonical.jsonl"
        requests = _canonical(source, fmt, canonical)
        source_s, source_mb, summary = _ingest(source, _fresh_store(workdir, f"store-{name}"))
        assert summary["loaded"] == requests, summary
        canonical_s, canonical_mb, summary = _ingest(canonical, _fresh_store(workdir, f"store-{name}-canonical"))
        assert summary["loaded"] == requests, summary
        results.append({
            "source": name, "input rows": rows, "requests": requests,
            "file MB": round(source.stat().st_size / 2**20), "source ingest s": round(source_s, 1),
            "canonical ingest s": round(canonical_s, 1), "ratio": round(source_s / canonical_s, 2),
            "source peak MB": round(source_mb), "canonical peak MB": round(canonical_mb),
        })  # fmt: skip
    return results


def main() -> None:
    """Run the benchmark and print a Markdown table for BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=None, help="keep files here (default: a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.out or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        results = bench(args.rows, workdir)
    print_table(results, f"python bench/sources.py --rows {args.rows}")


if __name__ == "__main__":
    main()

"""Helicone request exports and Langfuse exports (observations, traces, scores as feedback), built per their
exporters' field lists, through the one loader."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ingest.load import ingest
from ingest.readers import resolve
from routewatch.store import Store

# The columns @helicone/export writes to CSV (examples/export/typescript/index.ts), plus the request's scores
# (an object of score name to value, as POST /v1/request/{id}/score sets them; JSON text in CSV).
HELICONE_CSV = (
    "response_id", "response_created_at", "response_status", "request_created_at", "request_body",
    "request_properties", "request_user_id", "model", "prompt_tokens", "completion_tokens", "latency", "cost",
    "scores",
)  # fmt: skip


def _helicone_rows() -> list[dict[str, Any]]:
    base = {"request_body": "{}", "prompt_tokens": 100, "completion_tokens": 50, "latency": 800}
    return [
        {**base, "response_id": "h1", "request_created_at": "2026-09-01T10:00:00.000Z", "response_status": 200,
         "request_user_id": "alice", "model": "gpt-4o", "cost": 0.00075,
         "request_properties": json.dumps({"language": "fr", "plan": "team"}),
         "scores": {"helicone-score-feedback": 1, "CSAT": 4, "accuracy": 0.9}},
        {**base, "response_id": "h2", "request_created_at": "2026-09-01T10:00:01.000Z", "response_status": 500,
         "request_user_id": "", "model": "gpt-4o-mini", "cost": "", "request_properties": "{}",
         "scores": {"helicone-score-feedback": 0, "resolved": False}},
        {**base, "response_id": "h3", "request_created_at": "not a time", "response_status": 200,
         "request_user_id": "bob", "model": "gpt-4o", "cost": 0.1, "request_properties": "{}"},
        {**base, "response_id": "h4", "request_created_at": "2026-09-01T10:00:02.000Z", "response_status": 200,
         "request_user_id": "carol", "model": "gpt-4o", "cost": 0.1, "request_properties": "{}",
         "scores": {"csat": 4.5}},
    ]  # fmt: skip


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_helicone_exports_load_as_requests(store: Store, tmp_path: Path, kind: str) -> None:
    rows = _helicone_rows()
    path = tmp_path / f"helicone.{kind}"
    if kind == "csv":
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(HELICONE_CSV), quoting=csv.QUOTE_ALL)
            writer.writeheader()
            writer.writerows({**r, "scores": json.dumps(r["scores"]) if "scores" in r else ""} for r in rows)
    else:
        path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert resolve([str(path)])[0].format == "helicone"
    report = ingest(store, [str(path)])
    assert (report.total("read"), report.total("loaded"), report.total("quarantined")) == (4, 2, 2)
    live = store.query_df(
        "SELECT request_id, user_id, language, segments, toFloat64(cost_usd) AS cost, status, error_type, latency_ms,"
        " thumb, csat, resolved FROM requests FINAL ORDER BY request_id"
    ).set_index("request_id")
    # scores are feedback: Helicone's thumbs (1 up, 0 down), a CSAT and resolved by name; an evaluator's is not
    h1, h2 = live.loc["h1"], live.loc["h2"]
    assert (h1["thumb"], h1["csat"]) == (1, 4) and pd.isna(h1["resolved"])
    assert (h2["thumb"], h2["resolved"]) == (-1, False) and pd.isna(h2["csat"])
    assert live.loc["h1", "cost"] == pytest.approx(0.00075) and live.loc["h1", "segments"]["plan"] == "team"
    assert (live.loc["h1", "language"], live.loc["h1", "latency_ms"]) == ("fr", 800)
    assert live.loc["h2", "cost"] == pytest.approx((100 * 0.15 + 50 * 0.6) / 1e6)  # priced from routes.toml
    assert (live.loc["h2", "user_id"], live.loc["h2", "status"], live.loc["h2", "error_type"]) == (
        "unknown", "error", "http_500",
    )  # fmt: skip
    first, second = (r for (r,) in store.query_rows("SELECT reasons FROM quarantine FINAL ORDER BY source_line"))
    assert any("request_created_at: 'not a time' is not a time" in r for r in first)
    assert any("scores.csat: 4.5 is not a CSAT, a whole number from 1 to 5" in r for r in second), second


def _generation(trace: str, obs: str, start: str, end: str, model: str, **extra: Any) -> dict[str, Any]:
    return {"id": obs, "traceId": trace, "type": "GENERATION", "name": "chat", "startTime": start, "endTime": end,
            "model": model, "level": "DEFAULT", **extra}  # fmt: skip


def test_langfuse_traces_and_observations_fold_into_requests(store: Store, tmp_path: Path) -> None:
    page = {
        "data": [
            _generation("t1", "o1", "2026-09-01T10:00:00.000Z", "2026-09-01T10:00:00.400Z", "gpt-4o-mini",
                        level="ERROR", statusMessage="429 rate limit", usageDetails={"input": 200, "output": 0},
                        costDetails={"total": 0.00003}),
            _generation("t1", "o2", "2026-09-01T10:00:00.500Z", "2026-09-01T10:00:02.000Z", "gpt-4o",
                        completionStartTime="2026-09-01T10:00:00.900Z", usage={"input": 200, "output": 100},
                        calculatedTotalCost=0.0015),
            {"id": "o3", "traceId": "t1", "type": "SPAN", "name": "retrieval", "startTime": "2026-09-01T10:00:00Z"},
            _generation("t2", "o4", "2026-09-01T11:00:00Z", "2026-09-01T11:00:01Z", "claude-3-5-haiku-20241022",
                        promptTokens=1000, completionTokens=100),
            _generation("t3", "o5", "2026-09-01T12:00:00Z", "2026-09-01T11:00:00Z", "gpt-4o"),
        ],
        "meta": {"page": 1, "limit": 50, "totalItems": 5, "totalPages": 1},
    }  # fmt: skip
    traces = [
        {"id": "t1", "timestamp": "2026-09-01T10:00:00Z", "userId": "ana", "sessionId": "sess-1",
         "metadata": {"language": "pt"}},
        {"id": "t2", "timestamp": "2026-09-01T11:00:00Z", "userId": None, "observations": []},
    ]  # fmt: skip
    path = tmp_path / "langfuse.jsonl"
    path.write_text(json.dumps(page) + "\n" + "\n".join(json.dumps(t) for t in traces) + "\n", encoding="utf-8")
    assert resolve([str(path)])[0].format == "langfuse"
    report = ingest(store, [str(path)])
    assert (report.total("read"), report.total("loaded"), report.total("quarantined")) == (3, 2, 1)
    live = store.query_df("SELECT * FROM requests FINAL ORDER BY request_id").set_index("request_id")
    t1 = live.loc["t1"]
    assert (t1.route, t1.final_route, t1.model, t1.escalated, t1.escalation_reason) == (
        "cheap", "frontier", "gpt-4o", True, "rate_limited",
    )  # fmt: skip
    assert (t1.user_id, t1.session_id, t1.language, t1.input_tokens, t1.output_tokens) == (
        "ana", "sess-1", "pt", 400, 100,
    )  # fmt: skip
    assert float(t1.cost_usd) == pytest.approx(0.00153) and t1.latency_ms == pytest.approx(2000)
    assert t1.ttft_ms == pytest.approx(900)
    t2 = live.loc["t2"]
    assert (t2.user_id, t2.input_tokens) == ("unknown", 1000)
    assert float(t2.cost_usd) == pytest.approx((1000 * 0.8 + 100 * 4) / 1e6)
    reasons = store.query_rows("SELECT reasons FROM quarantine FINAL")[0][0]
    assert any("row 1, item 5: endTime: before startTime" in r for r in reasons)


def test_langfuse_scores_become_feedback_with_configurable_names(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = tmp_path / "obs.json"
    requests.write_text(json.dumps([
        _generation(t, f"o{t}", "2026-09-01T10:00:00Z", "2026-09-01T10:00:01Z", "gpt-4o", calculatedTotalCost=0.01)
        for t in ("t1", "t2")
    ]), encoding="utf-8")  # fmt: skip
    ingest(store, [str(requests)])
    config = tmp_path / "routewatch.toml"
    config.write_text('[sources.langfuse]\ncsat = ["stars"]\n', encoding="utf-8")
    monkeypatch.setenv("ROUTEWATCH_CONFIG", str(config))

    def score(trace: str, name: str, value: Any, data_type: str = "NUMERIC") -> dict[str, Any]:
        return {"id": f"{trace}-{name}", "traceId": trace, "name": name, "value": value, "dataType": data_type,
                "source": "API", "timestamp": "2026-09-01T10:05:00Z"}  # fmt: skip

    scores = tmp_path / "scores.json"
    scores.write_text(json.dumps({"data": [
        score("t1", "user-feedback", 1, "BOOLEAN"),
        score("t2", "user-feedback", 0, "BOOLEAN"),
        score("t1", "stars", 4),
        score("t2", "resolved", 1, "BOOLEAN"),
        score("t1", "hallucination", 0.2),  # an evaluator's score: not user feedback
        score("t2", "stars", 9),  # outside 1..5: quarantined
    ]}), encoding="utf-8")  # fmt: skip
    assert resolve([str(scores)])[0].format == "langfuse-scores"
    report = ingest(store, [str(scores)])
    assert (report.total("read"), report.total("loaded"), report.total("quarantined")) == (5, 4, 1)
    live = store.query_df("SELECT request_id, thumb, csat, resolved FROM requests FINAL ORDER BY request_id")
    assert live["thumb"].tolist() == [1, -1]
    assert live["csat"].tolist()[0] == 4 and live["resolved"].tolist()[1] == 1

"""Reading what teams already log: OTLP/JSON GenAI traces and LiteLLM spend logs, through the one loader."""

from __future__ import annotations

import base64
import csv
import json
import random
import signal
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from ingest.calls import Call, requests
from ingest.load import ingest
from ingest.mapping import DEFAULTS, load_mapping
from ingest.readers import resolve
from ingest.routes import RoutesError, load_routes, parse_routes
from routewatch.settings import SettingsError
from routewatch.store import Store
from tests.conftest import REAL_DATA, run_cli
from tests.otlp_build import T0, span, traces
from tests.test_reliability import _ingest_process, _truth

SAMPLES = REAL_DATA / "format_samples"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"real format samples not found at {SAMPLES}")
LIVE = (
    "SELECT request_id, user_id, session_id, language, route, final_route, model, escalated, escalation_reason,"
    " attempts, retries, input_tokens, output_tokens, toFloat64(cost_usd) AS cost, cost_source, latency_ms, ttft_ms,"
    " status, error_type, segments, source_line FROM requests FINAL ORDER BY request_id"
)
TRACE_A = "5B8EFFF798038103D269B633813FC60C"  # upper-case hex, as the OTLP example writes it
TRACE_B = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
TRACE_C, TRACE_D, TRACE_E = "c" * 32, "d" * 32, "e" * 32


def _live(store: Store) -> pd.DataFrame:
    return store.query_df(LIVE).set_index("request_id")


def _quarantine(store: Store) -> list[tuple[int, list[str]]]:
    rows = store.query_rows("SELECT source_line, reasons FROM quarantine FINAL ORDER BY source_line")
    return [(int(line), list(reasons)) for line, reasons in rows]


# -- routes.toml ---------------------------------------------------------------------------------------------


def test_the_default_routes_price_common_models_and_ignore_a_provider_prefix() -> None:
    routes = load_routes()
    assert routes.order == ("cheap", "mid", "frontier")
    assert routes.tier("gpt-4o-mini-2024-07-18") == "cheap"  # the more specific pattern comes first
    assert routes.tier("openai/gpt-4o") == "frontier"
    assert routes.tier("claude-3-5-sonnet-20241022") == "mid"
    entry = routes.match("gpt-4o")
    assert entry is not None and entry.cost_usd(1_000_000, 1_000_000) == pytest.approx(12.5)
    assert routes.match("my-private-model") is None and routes.tier("my-private-model") == "my-private-model"
    assert routes.rank("frontier") > routes.rank("cheap") > routes.rank("my-private-model")


def test_a_team_routes_file_replaces_the_default_and_bad_ones_are_named(tmp_path: Path) -> None:
    mine = tmp_path / "routes.toml"
    mine.write_text('order = ["small", "big"]\n[[model]]\npattern = "acme-*"\ntier = "small"\n', encoding="utf-8")
    routes = load_routes(mine)
    assert routes.tier("ACME-7b") == "small" and routes.match("acme-7b").cost_usd(10, 10) is None  # type: ignore[union-attr]
    with pytest.raises(RoutesError, match=r"#1: tier 'huge' is not in order"):
        parse_routes('order = ["a"]\n[[model]]\npattern = "x"\ntier = "huge"\n', "r.toml")
    with pytest.raises(RoutesError, match="prices must be numbers >= 0"):
        parse_routes('[[model]]\npattern = "x"\ntier = "a"\ninput_per_mtok = -1\noutput_per_mtok = 1\n', "r.toml")


# -- OTLP/JSON -----------------------------------------------------------------------------------------------


def _otlp_documents() -> list[dict[str, Any]]:
    """Four traces across two TracesData documents, one attribute generation each, plus a bad span."""
    b64 = base64.b64encode(TRACE_B).decode()
    first = traces(
        [
            span(
                TRACE_A, "01", 0, 950, {"user.id": "u1", "routewatch.language": "es", "routewatch.segment.plan": "pro"}
            ),
            # the current generation: provider.name, input/output tokens, a 429 on the cheap tier, no cost
            span(
                TRACE_A,
                "02",
                10,
                50,
                {
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                    "gen_ai.usage.input_tokens": 100,
                    "gen_ai.usage.output_tokens": 0,
                    "error.type": "429",
                },
                error=True,
            ),
            # the oldest generation: gen_ai.system and prompt/completion tokens; an id in base64; a timeout retried
            span(
                b64,
                "03",
                0,
                300,
                {
                    "gen_ai.system": "anthropic",
                    "gen_ai.request.model": "claude-3-5-haiku-20241022",
                    "gen_ai.usage.prompt_tokens": 1000,
                    "gen_ai.usage.completion_tokens": 0,
                    "error.type": "timeout",
                    "session.id": "s-b",
                    "enduser.id": "u2",
                },
                error=True,
            ),
            span(
                b64,
                "04",
                310,
                700,
                {
                    "gen_ai.system": "anthropic",
                    "gen_ai.request.model": "claude-3-5-haiku-20241022",
                    "gen_ai.usage.prompt_tokens": 1000,
                    "gen_ai.usage.completion_tokens": 200,
                    "gen_ai.cost.input_cost": 0.0008,
                    "gen_ai.cost.output_cost": 0.0008,
                },
            ),
        ],
        resource={"service.name": "chat"},
    )
    second = traces(
        [
            # trace A again, in another document: its answering call, with OpenLIT's cost and a first token
            span(
                TRACE_A,
                "05",
                60,
                900,
                {
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.usage.input_tokens": 100,
                    "gen_ai.usage.output_tokens": 50,
                    "gen_ai.usage.cost": 0.002,
                    "gen_ai.response.time_to_first_chunk": 0.2,
                    "gen_ai.conversation.id": "conv-a",
                    "some.unknown.attribute": "ignored",
                },
            ),
            # OpenInference: a model routes.toml does not know and no cost: unpriced
            span(TRACE_C, "06", 0, 100, {"llm.model_name": "my-private-model", "llm.token_count.prompt": 5}),
            # OpenInference with its own cost: loads, its tier is the model's name
            span(
                TRACE_D,
                "07",
                0,
                100,
                {
                    "llm.model_name": "my-private-model",
                    "llm.token_count.prompt": 5,
                    "llm.token_count.completion": 7,
                    "llm.cost.total": 0.5,
                },
            ),
            span(TRACE_E, "08", 0, 100, {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": "many"}),
            {"traceId": TRACE_E, "spanId": "09", "name": "not GenAI", "startTimeUnixNano": "1", "endTimeUnixNano": "2"},
        ]
    )
    return [first, second]


def _write_otlp(path: Path) -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(d) for d in _otlp_documents()) + b"\n")
    return path


def test_otlp_spans_of_every_generation_fold_into_requests(store: Store, tmp_path: Path) -> None:
    path = _write_otlp(tmp_path / "spans.jsonl")
    assert resolve([str(path)])[0].format == "otlp"
    report = ingest(store, [str(path)])
    assert (report.total("read"), report.total("loaded"), report.total("quarantined")) == (5, 4, 1)
    live = _live(store)
    assert sorted(live.index) == sorted([TRACE_A.lower(), TRACE_B.hex(), TRACE_C, TRACE_D])
    a = live.loc[TRACE_A.lower()]
    assert (a.route, a.final_route, a.model, a.escalated, a.escalation_reason) == (
        "cheap", "frontier", "gpt-4o", True, "rate_limited",
    )  # fmt: skip
    assert (a.attempts, a.retries, a.input_tokens, a.output_tokens) == (2, 0, 200, 50)
    assert a.cost == pytest.approx(0.002 + 100 * 0.15 / 1e6)  # the failed call priced from routes.toml
    assert a.segments == {"plan": "pro"} and a.cost_source == "mixed"
    assert (a.user_id, a.session_id, a.language, a.status) == ("u1", "conv-a", "es", "ok")
    assert a.latency_ms == pytest.approx(890) and a.ttft_ms == pytest.approx(50 + 200)  # from the first call's start
    b = live.loc[TRACE_B.hex()]
    assert (b.route, b.final_route, b.escalated, b.attempts, b.retries) == ("cheap", "cheap", False, 2, 1)
    assert (b.user_id, b.session_id, b.input_tokens, b.output_tokens) == ("u2", "s-b", 2000, 200)
    assert b.cost == pytest.approx(1000 * 0.8 / 1e6 + 0.0016) and b.cost_source == "mixed"
    d = live.loc[TRACE_D]
    assert (d.user_id, d.route, d.model, d.cost, d.cost_source) == (
        "unknown", "my-private-model", "my-private-model", 0.5, "reported",
    )  # fmt: skip
    c = live.loc[TRACE_C]  # neither a cost nor a price: loaded, its cost unknown (not $0)
    assert (c.model, c.input_tokens, c.cost_source) == ("my-private-model", 5, "unpriced") and pd.isna(c.cost)
    quarantine = dict(_quarantine(store))
    assert 6 not in quarantine
    assert any("line 2, span 4: gen_ai.usage.input_tokens: 'many' is not a number" in r for r in quarantine[8])


@needs_samples
def test_the_real_otlp_example_has_no_genai_span_and_loads_nothing(store: Store) -> None:
    path = SAMPLES / "otlp_examples_trace.json"
    assert resolve([str(path)])[0].format == "otlp"
    report = ingest(store, [str(path)])
    assert (report.total("read"), report.total("quarantined")) == (0, 0)  # its attributes are not GenAI ones


def test_grouping_spilled_to_disk_gives_the_same_requests() -> None:
    routes = load_routes()
    rng = random.Random(3)
    calls = [
        Call(key=f"t{rng.randrange(40)}", position=i, where="", start_ns=T0 + i, end_ns=T0 + i + 5, model="gpt-4o",
             input_tokens=rng.randrange(100), cost_usd=None if i % 3 else 0.01)
        for i in range(1, 500)
    ]  # fmt: skip
    in_memory = list(requests(iter(calls), routes))
    spilled = list(requests(iter(calls), routes, spill_calls=7))
    assert len(in_memory) == 40
    assert sorted(map(orjson.dumps, in_memory)) == sorted(map(orjson.dumps, spilled))


def test_the_spill_is_removed_however_reading_stops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    routes = load_routes()
    calls = [Call(key=f"t{i % 5}", position=i, where="", start_ns=T0 + i, end_ns=T0 + i + 5, model="gpt-4o")
             for i in range(1, 50)]  # fmt: skip

    def failing() -> Iterator[Call]:
        yield from calls
        raise ValueError("the input broke off")

    with pytest.raises(ValueError, match="broke off"):
        list(requests(failing(), routes, spill_calls=7))
    assert not list(tmp_path.iterdir())
    stopped = requests(iter(calls), routes, spill_calls=7)
    next(stopped)
    assert list(tmp_path.iterdir())  # spilled while grouping
    stopped.close()
    assert not list(tmp_path.iterdir())


def test_otlp_mapping_comes_from_routewatch_toml(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "routewatch.toml"
    config.write_text('[sources.otlp]\nlanguage = ["app.lang"]\nuser_id = "app.user"\n', encoding="utf-8")
    monkeypatch.setenv("ROUTEWATCH_CONFIG", str(config))
    assert load_mapping("otlp")["language"] == ("app.lang",)
    assert load_mapping("otlp")["session_id"] == DEFAULTS["otlp"]["session_id"]
    attrs = {"gen_ai.request.model": "gpt-4o", "app.lang": "hi", "app.user": "z", "gen_ai.usage.cost": 0.1}
    path = tmp_path / "one.json"
    path.write_bytes(orjson.dumps(traces([span(TRACE_C, "01", 0, 10, attrs)]), option=orjson.OPT_INDENT_2))
    ingest(store, [str(path)])
    row = _live(store).loc[TRACE_C]
    assert (row.language, row.user_id) == ("hi", "z")
    config.write_text('[sources.otlp]\nlanguge = ["x"]\n', encoding="utf-8")
    with pytest.raises(SettingsError, match=r"\[sources.otlp\] languge: unknown field"):
        load_mapping("otlp")


# -- LiteLLM -------------------------------------------------------------------------------------------------


@needs_samples
def test_the_real_litellm_spend_log_row_loads_with_its_own_numbers(store: Store) -> None:
    path = SAMPLES / "litellm_spend_logs_payload.json"
    row = json.loads(path.read_text(encoding="utf-8"))
    assert resolve([str(path)])[0].format == "litellm"
    report = ingest(store, [str(path)])
    assert (report.total("read"), report.total("loaded")) == (1, 1)
    got = _live(store).loc[row["request_id"]]
    elapsed = datetime.fromisoformat(row["endTime"]) - datetime.fromisoformat(row["startTime"])
    assert got.user_id == "unknown"  # end_user is empty; `user` would be the key's owner
    assert (got.session_id, got.model, got.route) == (row["session_id"], row["model"], "frontier")
    assert (got.input_tokens, got.output_tokens) == (row["prompt_tokens"], row["completion_tokens"])
    assert got.cost == pytest.approx(row["spend"]) and got.cost_source == "reported"
    assert got.latency_ms == pytest.approx(elapsed.total_seconds() * 1000)
    assert (got.retries, got.escalated, got.status) == (0, False, "ok")


@needs_samples
def test_the_real_standard_logging_payload_loads(store: Store) -> None:
    path = SAMPLES / "litellm_standard_logging_payload.json"
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert resolve([str(path)])[0].format == "litellm"
    ingest(store, [str(path)])
    got = _live(store).loc[payload["id"]]
    assert got.cost == pytest.approx(payload["response_cost"]) and got.input_tokens == payload["prompt_tokens"]


def _spend_rows() -> list[dict[str, Any]]:
    def row(request_id: str, **extra: Any) -> dict[str, Any]:
        base = {
            "request_id": request_id, "call_type": "acompletion", "api_key": "hashed", "spend": 0.001,
            "total_tokens": 30, "prompt_tokens": 10, "completion_tokens": 20,
            "startTime": "2026-09-01 10:00:00.000000", "endTime": "2026-09-01 10:00:01.500000",
            "completionStartTime": "2026-09-01 10:00:00.250000", "model": "gpt-4o-mini", "model_group": "gpt-4o-mini",
            "user": "key-owner", "end_user": "", "team_id": "team-1", "metadata": "{}", "request_tags": "[]",
            "session_id": "", "status": "success",
        }  # fmt: skip
        base.update(extra)
        return base

    fell_back = {
        "attempted_fallbacks": 1, "attempted_retries": 2, "original_model_group": "gpt-4o-mini",
        "spend_logs_metadata": {"language": "hi", "plan": "free"},
        "error_information": {"error_code": "429"},
    }  # fmt: skip
    return [
        row("r1", end_user="alice"),
        row("r2", end_user="bob", model="gpt-4o", model_group="gpt-4o", spend=0.02, metadata=json.dumps(fell_back)),
        row("r3", status="failure", spend=0, metadata=json.dumps({"error_information": {"error_code": "500"}})),
        row("r4", startTime="yesterday"),
        row("r5", prompt_tokens="ten"),
    ]


def _write_spend_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("kind", ["jsonl", "json", "csv"])
def test_litellm_exports_load_the_same_requests(store: Store, tmp_path: Path, kind: str) -> None:
    rows = _spend_rows()
    path = tmp_path / f"spend.{kind}"
    if kind == "jsonl":
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    elif kind == "json":
        path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    else:
        _write_spend_csv(path, rows)
    assert resolve([str(path)])[0].format == "litellm"
    report = ingest(store, [str(path)])
    assert (report.total("read"), report.total("loaded"), report.total("quarantined")) == (5, 3, 2)
    live = _live(store)
    good = pd.DataFrame(rows[:3])  # the independent sums of the rows that load
    assert live["cost"].sum() == pytest.approx(good["spend"].astype(float).sum())
    assert live["input_tokens"].sum() == good["prompt_tokens"].astype(int).sum()
    assert sorted(live["user_id"]) == ["alice", "bob", "unknown"]
    r2 = live.loc["r2"]
    assert (r2.route, r2.final_route, r2.model, r2.escalated, r2.escalation_reason) == (
        "cheap", "frontier", "gpt-4o", True, "rate_limited",
    )  # fmt: skip
    assert (r2.attempts, r2.retries, r2.language, r2.segments["plan"]) == (2, 2, "hi", "free")
    r1 = live.loc["r1"]
    assert (r1.latency_ms, r1.ttft_ms, r1.escalated) == (1500, 250, False)
    r3 = live.loc["r3"]
    assert (r3.status, r3.error_type) == ("error", "500")
    reasons = dict(_quarantine(store))
    first_bad = min(reasons)
    assert any("startTime: 'yesterday' is not a time" in r for r in reasons[first_bad])
    assert any("prompt_tokens: 'ten' is not a number" in r for r in reasons[max(reasons)])


def test_a_rerun_changes_nothing_and_counts_add_up(store: Store, tmp_path: Path) -> None:
    path = _write_otlp(tmp_path / "spans.jsonl")
    first = ingest(store, [str(path)]).as_json()
    before = store.query_rows("SELECT count(), sum(cost_usd), sum(sign) FROM requests")
    second = ingest(store, [str(path)]).as_json()
    assert first["read"] == first["loaded"] + first["quarantined"] + first["duplicates"]
    assert second["read"] == second["quarantined"] + second["duplicates"] and second["loaded"] == 0
    assert store.query_rows("SELECT count(), sum(cost_usd), sum(sign) FROM requests") == before


@pytest.mark.slow
def test_kill_9_during_a_litellm_ingest_then_rerun_is_exact(tmp_path: Path) -> None:
    rng = random.Random(9)
    rows = [
        {"request_id": f"q{i}", "call_type": "acompletion", "spend": round(rng.random() / 100, 6),
         "prompt_tokens": rng.randrange(500), "completion_tokens": rng.randrange(500),
         "startTime": f"2026-09-0{1 + i % 9} 10:00:00", "endTime": f"2026-09-0{1 + i % 9} 10:00:02",
         "model": "gpt-4o-mini", "end_user": f"u{i % 97}", "metadata": "{}", "status": "success"}
        for i in range(6_000)
    ]  # fmt: skip
    path = tmp_path / "spend.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    store = Store(f"chdb://{tmp_path / 'store'}")
    process = _ingest_process(store, path, chunk_rows=500)
    time.sleep(5.5)  # somewhere in the middle of the job
    process.send_signal(signal.SIGKILL)
    process.communicate()
    rerun = run_cli("ingest", str(path), "--json", "--chunk-rows", "500", store=store)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["read"] == 6_000 == summary["loaded"] + summary["duplicates"]
    live, live_cost, rolled, rolled_cost = _truth(store)
    assert (live, rolled) == (6_000, 6_000) and live_cost == rolled_cost
    assert abs(live_cost - Decimal(str(round(sum(r["spend"] for r in rows), 9)))) < Decimal("0.000001")


def test_the_cli_recognises_each_format_by_content(store: Store, tmp_path: Path) -> None:
    otlp_file = _write_otlp(tmp_path / "export.data")  # no telling suffix
    spend = _write_spend_csv(tmp_path / "spend.txt", _spend_rows())
    result = run_cli("ingest", str(otlp_file), str(spend), "--json", store=store)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [f["format"] for f in summary["files"]] == ["otlp", "litellm"]
    assert (summary["read"], summary["loaded"], summary["quarantined"]) == (10, 7, 3)  # the unpriced trace loads


def test_an_otlp_line_that_is_not_json_is_quarantined_and_the_rest_loads(store: Store, tmp_path: Path) -> None:
    good = traces([span(TRACE_C, "01", 0, 10, {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.cost": 0.1})])
    path = tmp_path / "spans.jsonl"
    path.write_bytes(orjson.dumps(good) + b'\n{"resourceSpans": [\n')
    report = ingest(store, [str(path)])
    assert (report.total("read"), report.total("loaded"), report.total("quarantined")) == (2, 1, 1)
    ((_, reasons),) = _quarantine(store)
    assert reasons[0].startswith("line 2: not valid JSON")

"""`routewatch metrics`: dimensions, filters, formats, and real llmperf traffic against pandas."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ingest.load import ingest
from metrics.dimensions import DimensionError, render
from metrics.registry import METRICS, compute
from routewatch.sqlfiles import query
from routewatch.store import Store
from tests.conftest import cli_json, good_record, run_cli, write_lines
from tests.realdata import llmperf_records, needs_real_data, write_llmperf


@pytest.fixture
def loaded(store: Store, synthetic_file: Path) -> tuple[Store, pd.DataFrame]:
    ingest(store, [str(synthetic_file)])
    frame = pd.read_json(synthetic_file, lines=True, precise_float=True)
    return store, frame


def test_volume_by_two_dimensions_matches_pandas(loaded: tuple[Store, pd.DataFrame]) -> None:
    store, frame = loaded
    rows = cli_json("metrics", "volume", "--by", "route,language", "--format", "json", store=store)
    got = pd.DataFrame(rows).set_index(["route", "language"]).sort_index()
    expected = (
        frame.groupby(["route", "language"])
        .agg(requests=("request_id", "size"), users=("user_id", "nunique"), cost_usd=("cost_usd", "sum"))
        .sort_index()
    )
    assert got["requests"].tolist() == expected["requests"].tolist()
    assert got["users"].tolist() == expected["users"].tolist()
    assert got["cost_usd"].round(9).tolist() == expected["cost_usd"].round(9).tolist()


def test_volume_with_a_segment_key_a_filter_and_a_time_range(loaded: tuple[Store, pd.DataFrame]) -> None:
    store, frame = loaded
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    since = frame["ts"].quantile(0.5)
    result = compute(
        store, "volume", by=["segments.native_speaker"], where={"channel": "chat"}, since=since.to_pydatetime()
    )
    chosen = frame[(frame["channel"] == "chat") & (frame["ts"] >= since)]
    expected = chosen.groupby(chosen["segments"].map(lambda s: s["native_speaker"])).size()
    assert (
        result.set_index("segments.native_speaker")["requests"].sort_index().tolist() == expected.sort_index().tolist()
    )


@needs_real_data
def test_volume_on_real_llmperf_traffic_by_provider_route(store: Store, tmp_path: Path) -> None:
    report = ingest(store, [str(write_llmperf(tmp_path / "llmperf.jsonl"))])
    records = pd.DataFrame(llmperf_records())
    assert report.total("loaded") == len(records) == 2_845
    result = compute(store, "volume", by=["route", "error_type"]).set_index(["route", "error_type"])["requests"]
    expected = records.groupby(["route", "error_type"]).size()
    assert result.sort_index().to_dict() == expected.sort_index().to_dict()
    rate_limited = expected.xs("http_429", level="error_type")
    assert rate_limited.filter(like="lepton").sum() == 390  # Lepton refused 130 of 150 requests in each size
    latency = compute(store, "latency", by=["route"]).set_index("route")
    quantiles = records.groupby("route")["latency_ms"].quantile([0.5, 0.95, 0.99]).unstack()
    assert np.allclose(latency[["p50_ms", "p95_ms", "p99_ms"]].to_numpy(), quantiles.to_numpy(), rtol=1e-9)
    errors = compute(store, "error_rate", by=["route"]).set_index("route")["error_rate"]
    assert np.allclose(
        errors.to_numpy(), records.groupby("route")["status"].apply(lambda s: (s == "error").mean()).to_numpy()
    )
    assert errors["lepton_70b"] == pytest.approx(130 / 150)


def test_unknown_dimensions_and_metrics_are_refused(loaded: tuple[Store, pd.DataFrame]) -> None:
    store, _ = loaded
    with pytest.raises(DimensionError, match="unknown dimension 'user_id; DROP TABLE requests'"):
        render(["user_id; DROP TABLE requests"], {})
    bad = run_cli("metrics", "volume", "--by", "password", store=store)
    assert bad.returncode == 1 and "unknown dimension 'password'" in bad.stderr
    unknown = run_cli("metrics", "happiness", store=store)
    assert unknown.returncode == 2 and "invalid choice: 'happiness'" in unknown.stderr  # a usage error
    assert "escalation_rate" in unknown.stderr


def test_a_segment_key_is_bound_not_formatted(loaded: tuple[Store, pd.DataFrame]) -> None:
    rendered = render(["segments.client"], {"segments.native_speaker": "no' OR 1=1 --"})
    assert "segments[{dk0:String}]" in rendered.dims and rendered.params["dk0"] == "client"  # bound, not formatted
    assert "'client'" not in rendered.dims  # never a literal in the SQL
    assert rendered.params["wv0"] == "no' OR 1=1 --" and "OR 1=1" not in rendered.filters
    with pytest.raises(DimensionError):
        render(["segments.bad key'"], {})


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.name)
def test_every_registry_entry_has_its_sql_and_columns(metric: object, loaded: tuple[Store, pd.DataFrame]) -> None:
    store, _ = loaded
    assert query(metric.sql).returns  # type: ignore[attr-defined]
    frame = compute(store, metric.name, by=["channel"])  # type: ignore[attr-defined]
    assert list(frame.columns) == ["channel", *metric.columns]  # type: ignore[attr-defined]
    assert metric.help  # type: ignore[attr-defined]


def test_formats_table_json_csv(loaded: tuple[Store, pd.DataFrame]) -> None:
    store, _ = loaded
    table = run_cli("metrics", "volume", "--by", "channel", store=store)
    assert table.returncode == 0 and table.stdout.splitlines()[0].split() == [
        "channel",
        "requests",
        "users",
        "cost_usd",
        "unpriced",
    ]
    csv = run_cli("metrics", "volume", "--format", "csv", store=store)
    assert csv.stdout.splitlines()[0] == "requests,users,cost_usd,unpriced"
    assert json.loads(run_cli("metrics", "volume", "--format", "json", store=store).stdout)[0]["requests"] == 5_000


def test_shadow_divergence_without_a_shadow_router_says_what_to_send(store: Store, tmp_path: Path) -> None:
    records = [json.dumps(good_record(f"r{i}", user_id=f"u{i % 3}")) for i in range(6)]
    ingest(store, [str(write_lines(tmp_path / "plain.jsonl", records))])
    result = run_cli("metrics", "shadow_divergence", "--format", "json", store=store)
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert (row["requests"], row["compared"], row["diverged"]) == (6, 0, 0)
    assert row["shadow_cost_delta_usd"] is None and row["shadow_divergence"] is None  # nothing compared: no $0
    assert "no request in this window carries a shadow_route" in result.stderr

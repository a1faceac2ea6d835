"""Every metric of the registry against an independent pandas computation on the same rows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ingest.load import ingest
from metrics.registry import METRICS, compute
from routewatch.store import Store
from tests.conftest import write_lines

DIMS = ["route", "language"]


def _effective(frame: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Apply late feedback: the newest event of a kind replaces the request's own value."""
    frame = frame.copy()
    newest = events.sort_values("ts").groupby(["request_id", "kind"])["value"].last().unstack()
    indexed = frame.set_index("request_id")
    for kind in ("resolved", "thumb", "csat"):
        if kind in newest:
            values = newest[kind].dropna()
            indexed.loc[values.index, kind] = values.map(lambda v, k=kind: bool(v > 0) if k == "resolved" else v)
    return indexed.reset_index()


def reference(frame: pd.DataFrame, name: str, by: list[str]) -> pd.DataFrame:
    """The metric computed with pandas alone."""
    g = frame.groupby(by)
    requests = g.size().rename("requests")
    resolved = frame["resolved"].map(lambda v: v is True)
    frame = frame.assign(
        _resolved=resolved,
        _known=frame["resolved"].notna(),
        _error=frame["status"] == "error",
        _allin=frame["cost_usd"] + frame["router_cost_usd"] + frame["human_cost_usd"],
        _thumb_rated=frame["thumb"].notna(),
        _up=frame["thumb"] == 1,
        _csat_rated=frame["csat"].notna(),
        _compared=frame["shadow_route"] != "",
        _diverged=(frame["shadow_route"] != "") & (frame["shadow_route"] != frame["route"]),
    )
    # an unpriced request (cost_usd NaN) counts in requests and quality, in no cost numerator or denominator
    frame = frame.assign(_priced=frame["cost_usd"].notna(), _unpriced_cost=frame["cost_usd"].isna())
    frame = frame.assign(_priced_resolved=frame["_priced"] & frame["_resolved"])
    g = frame.groupby(by)
    s = g.sum(numeric_only=True)
    unpriced = s["_unpriced_cost"]
    if name == "volume":
        spend = g["cost_usd"].sum(min_count=1)
        return pd.DataFrame({"requests": requests, "users": g["user_id"].nunique(), "cost_usd": spend,
                             "unpriced": unpriced})  # fmt: skip
    if name == "escalation_rate":
        return pd.DataFrame(
            {"requests": requests, "escalated": s["escalated"], "escalation_rate": s["escalated"] / requests}
        )
    if name == "cost_per_resolved":
        priced, priced_resolved = s["_priced"], s["_priced_resolved"]
        return pd.DataFrame(
            {
                "requests": requests,
                "cost_usd": s["_allin"],
                "model_cost_usd": s["cost_usd"],
                "resolved": s["_resolved"],
                "priced": priced,
                "priced_resolved": priced_resolved,
                "unpriced": unpriced,
                "cost_per_resolved": (s["_allin"] / priced_resolved).where(priced_resolved > 0),
                "cost_per_request": s["cost_usd"] / priced,
                "all_in_cost_per_request": s["_allin"] / priced,
            }
        )
    if name in ("latency", "ttft"):
        column = "latency_ms" if name == "latency" else "ttft_ms"
        rows = frame.dropna(subset=[column]).groupby(by)[column]
        return pd.DataFrame(
            {
                "requests": rows.size(),
                "p50_ms": rows.quantile(0.5),
                "p95_ms": rows.quantile(0.95),
                "p99_ms": rows.quantile(0.99),
            }
        )
    if name == "error_rate":
        return pd.DataFrame({"requests": requests, "errors": s["_error"], "error_rate": s["_error"] / requests})
    if name == "cheap_share":
        cheap = frame.assign(_cheap=frame["final_route"] == "cheap").groupby(by)["_cheap"].sum()
        return pd.DataFrame({"requests": requests, "cheap": cheap, "cheap_share": cheap / requests})
    if name == "resolution_rate":
        known = s["_known"]
        return pd.DataFrame(
            {
                "requests": requests,
                "resolved": s["_resolved"],
                "known": known,
                "resolution_rate": s["_resolved"] / known,
            }
        )
    if name == "thumbs_up_rate":
        rated = s["_thumb_rated"]
        return pd.DataFrame(
            {"requests": requests, "rated": rated, "thumbs_up": s["_up"], "thumbs_up_rate": s["_up"] / rated}
        )
    if name == "csat":
        return pd.DataFrame(
            {"requests": requests, "rated": s["_csat_rated"], "csat_total": s["csat"], "mean_csat": g["csat"].mean()}
        )
    if name == "feedback_coverage":
        rated = frame.assign(_rated=frame["_thumb_rated"] | frame["_csat_rated"]).groupby(by)["_rated"].sum()
        return pd.DataFrame({"requests": requests, "rated": rated, "feedback_coverage": rated / requests})
    if name == "shadow_divergence":
        price = frame["shadow_route"].map(frame.groupby("route")["cost_usd"].mean())  # the mean of priced ones
        frame = frame.assign(_unpriced=frame["_diverged"] & (price.isna() | frame["cost_usd"].isna()))
        delta = np.where(frame["_diverged"] & ~frame["_unpriced"], price - frame["cost_usd"], 0.0)
        unpriced = frame.groupby(by)["_unpriced"].sum()
        total = frame.assign(_delta=delta).groupby(by)["_delta"].sum()
        return pd.DataFrame(
            {
                "requests": requests,
                "compared": s["_compared"],
                "diverged": s["_diverged"],
                "shadow_divergence": s["_diverged"] / s["_compared"],
                "unpriced": unpriced,
                "shadow_cost_delta_usd": total.where((unpriced == 0) | (unpriced < s["_diverged"])),
            }
        )
    if name == "router_overhead":
        timed = frame.dropna(subset=["router_latency_ms"]).groupby(by)["router_latency_ms"]
        return pd.DataFrame(
            {
                "requests": requests,
                "timed": timed.size(),
                "p50_ms": timed.quantile(0.5),
                "p95_ms": timed.quantile(0.95),
                "router_cost_usd": frame[frame["_priced"]].groupby(by)["router_cost_usd"].sum(),
                "unpriced": unpriced,
            }
        )
    if name == "spend_concentration":
        top = g["_allin"].apply(lambda c: c.nlargest(math.ceil(c.count() / 100)).sum())
        return pd.DataFrame(
            {
                "requests": requests,
                "unpriced": unpriced,
                "cost_usd": s["_allin"],
                "top_1pct_cost_usd": top,
                "top_1pct_share": top / s["_allin"],
            }
        )
    if name == "reask_rate":
        from tests.test_reask import pandas_reasked

        reasked = frame.assign(_reasked=pandas_reasked(frame, 600)).groupby(by)["_reasked"].sum()
        return pd.DataFrame({"requests": requests, "reasked": reasked, "reask_rate": reasked / requests})
    raise AssertionError(f"no reference for {name}")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, synthetic_file: Path) -> tuple[Store, pd.DataFrame]:
    """The synthetic traffic, 3% of it unpriced (neither a cost nor a price), and late feedback that flips some
    outcomes, in a store and in pandas."""
    folder = tmp_path_factory.mktemp("metrics")
    store = Store(f"chdb://{folder / 'store'}")
    lines = [json.loads(line) for line in synthetic_file.read_text().splitlines()]
    for record in lines[::33]:
        del record["cost_usd"]
        record["cost_source"] = "unpriced"
    traffic = write_lines(folder / "traffic.jsonl", [json.dumps(r) for r in lines])
    frame = pd.read_json(traffic, lines=True, precise_float=True, dtype={"resolved": object})
    assert frame["cost_usd"].isna().sum() == len(lines[::33])
    for column in ("shadow_route", "error_type", "escalation_reason"):
        frame[column] = frame[column].fillna("")
    frame["resolved"] = frame["resolved"].map(lambda v: None if v is None or v != v else bool(v))
    rng = np.random.default_rng(3)
    picked = frame.sample(400, random_state=1)
    events = pd.DataFrame(
        {
            "request_id": picked["request_id"],
            "ts": "2026-11-01T00:00:00Z",
            "kind": rng.choice(["resolved", "thumb", "csat"], len(picked)),
            "value": 1,
        }
    )
    events.loc[events["kind"] == "thumb", "value"] = rng.choice([-1, 1], (events["kind"] == "thumb").sum())
    events.loc[events["kind"] == "csat", "value"] = rng.integers(1, 6, (events["kind"] == "csat").sum())
    feedback = write_lines(folder / "feedback.jsonl", [json.dumps(r) for r in events.to_dict("records")])
    ingest(store, [str(traffic), str(feedback)])
    return store, _effective(frame, events)


@pytest.mark.parametrize("exact", [False, True], ids=["rollup", "rows"])
@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.name)
def test_every_metric_matches_pandas(metric: object, exact: bool, loaded: tuple[Store, pd.DataFrame]) -> None:
    store, frame = loaded
    name = metric.name  # type: ignore[attr-defined]
    if exact and not metric.rollup:  # type: ignore[attr-defined]
        pytest.skip("read from the rows either way")
    got = compute(store, name, by=DIMS, exact=exact).set_index(DIMS).sort_index()
    expected = reference(frame, name, DIMS).sort_index()
    expected = expected[expected["requests"] > 0]
    assert list(got.columns) == list(metric.columns)  # type: ignore[attr-defined]
    assert got.index.tolist() == expected.index.tolist()
    for column in got.columns:
        left = pd.to_numeric(got[column], errors="coerce").astype(float).to_numpy()
        right = pd.to_numeric(expected[column], errors="coerce").astype(float).to_numpy()
        np.testing.assert_allclose(left, right, rtol=1e-9, atol=1e-9, err_msg=f"{name}.{column}")
    assert metric.help  # type: ignore[attr-defined]


def test_late_feedback_changes_the_outcome(loaded: tuple[Store, pd.DataFrame]) -> None:
    store, frame = loaded
    resolved = compute(store, "resolution_rate")
    assert int(resolved["resolved"].iloc[0]) == int(frame["resolved"].map(lambda v: v is True).sum())


def test_buckets_add_up_to_the_total(loaded: tuple[Store, pd.DataFrame]) -> None:
    store, frame = loaded
    daily = compute(store, "volume", bucket="day")
    assert daily["requests"].sum() == len(frame)
    days = pd.to_datetime(frame["ts"], utc=True).dt.floor("D").value_counts().sort_index()
    assert daily["requests"].tolist() == days.tolist()
    weekly = compute(store, "error_rate", bucket="week", by=["channel"])
    assert weekly["requests"].sum() == len(frame)


@pytest.mark.parametrize("metric", [m for m in METRICS if m.rollup], ids=lambda m: m.name)
def test_rollup_answers_equal_the_exact_ones(
    metric: object, loaded: tuple[Store, pd.DataFrame], tmp_path: Path
) -> None:
    store, frame = loaded
    name = metric.name  # type: ignore[attr-defined]
    first = pd.Timestamp(frame["ts"].min()).normalize().to_pydatetime()
    cuts: list[dict[str, object]] = [
        {"by": ["route", "language"]},
        {"by": ["status"], "where": {"channel": "chat", "escalated": "true"}},
        {"bucket": "day", "by": ["tier"]},
        {"bucket": "week"},
        {"by": ["final_route"], "since": first + pd.Timedelta(days=3), "until": first + pd.Timedelta(days=9)},
    ]
    for cut in cuts:
        fast = compute(store, name, **cut)  # type: ignore[arg-type]
        exact = compute(store, name, exact=True, **cut)  # type: ignore[arg-type]
        assert len(fast) == len(exact) > 0, cut
        for column in fast.columns:
            left, right = fast[column], exact[column]
            if column == "bucket":
                left, right = pd.to_datetime(left, utc=True), pd.to_datetime(right, utc=True)
                assert left.tolist() == right.tolist(), cut
            elif pd.api.types.is_numeric_dtype(left):
                np.testing.assert_allclose(
                    left.astype(float), right.astype(float), rtol=1e-12, err_msg=f"{cut} {column}"
                )
            else:
                assert left.astype(str).tolist() == right.astype(str).tolist(), (cut, column)


def test_rollup_stays_exact_after_updates(store: Store, tmp_path: Path) -> None:
    from tests.conftest import good_record

    first = [good_record(f"u{i}", escalated=i % 2 == 0, route="cheap") for i in range(40)]
    ingest(store, [str(write_lines(tmp_path / "a.jsonl", [json.dumps(r) for r in first]))])
    changed = [good_record(f"u{i}", escalated=True, route="frontier") for i in range(15)]
    ingest(store, [str(write_lines(tmp_path / "b.jsonl", [json.dumps(r) for r in changed]))])
    fast = compute(store, "escalation_rate", by=["route"])
    exact = compute(store, "escalation_rate", by=["route"], exact=True)
    assert fast.to_dict("records") == exact.to_dict("records")
    assert fast.set_index("route")["requests"].to_dict() == {"cheap": 25, "frontier": 15}


def test_the_segment_keys_listed_are_those_of_the_live_requests_after_updates(store: Store, tmp_path: Path) -> None:
    from metrics.dimensions import segment_dimensions
    from tests.conftest import good_record

    first = [good_record(f"k{i}", segments={"plan": "a", **({"device": "ios"} if i < 10 else {})}) for i in range(30)]
    ingest(store, [str(write_lines(tmp_path / "a.jsonl", [json.dumps(r) for r in first]))])
    assert segment_dimensions(store) == ["segments.plan", "segments.device"]  # the most used first
    # Every request that carried `device` is sent again without it, and ten more carry `team`.
    changed = [good_record(f"k{i}", segments={"plan": "b"}) for i in range(10)]
    more = [good_record(f"t{i}", segments={"team": "x"}) for i in range(10)]
    ingest(store, [str(write_lines(tmp_path / "b.jsonl", [json.dumps(r) for r in [*changed, *more]]))])
    live = store.query_rows(
        "SELECT key, count() FROM requests_live ARRAY JOIN mapKeys(segments) AS key GROUP BY key ORDER BY key"
    )
    assert live == [("plan", 30), ("team", 10)]
    assert segment_dimensions(store) == ["segments.plan", "segments.team"]

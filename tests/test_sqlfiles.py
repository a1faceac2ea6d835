"""The query renderer: every template renders into SQL ClickHouse parses; each way of filling it wrong is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from cli.common import EXIT_ERROR, EXIT_OK
from cli.main import main
from ingest.load import ingest
from metrics.dimensions import expression, fill, render
from metrics.gaps._loading import GRAINS
from metrics.gaps._trailing import segment_columns
from metrics.latency import MEASURES
from metrics.reask import reask_source
from metrics.registry import compute
from routewatch.sqlfiles import SQL_DIR, Query, SlotError, load, part, query, split_statements
from routewatch.store import Store

# The one query routewatch sends to PostgreSQL (ingest/remote.py): rendered here, parsed by PostgreSQL in
# tests/test_litellm_postgres.py.
POSTGRES = {"litellm_spend_logs_since"}


@pytest.fixture
def loaded(store: Store, synthetic_file: Path) -> tuple[Store, pd.DataFrame]:
    ingest(store, [str(synthetic_file)])
    return store, pd.read_json(synthetic_file, lines=True)


def _names() -> list[str]:
    return sorted(p.name.removesuffix(".sql") for p in (SQL_DIR / "queries").iterdir() if p.name.endswith(".sql"))


def _representative(template: Query, full: bool) -> dict[str, str]:
    """Slot values as routewatch's code builds them: every optional fragment present (``full``) or left out."""
    if "rollup_daily" in template.template:  # the rollup keeps these dimensions and day or week buckets
        cut = render(["language", "escalated"], {"tier": "free"}, "week", rollup=True) if full else render([], {})
    else:
        where = {"route": "cheap", "segments.native_speaker": "no"}
        cut = render(["language", "segments.client"], where, "hour") if full else render([], {})
    grain = GRAINS["groups" if full else "cell"]
    pairs = [
        part("second_class_touched_pair").render(dimension=expression(d, f"tk{i}", {}), i=str(i))
        for i, d in enumerate(["language", "segments.client"])
    ]
    gap_cells = {"segment": expression("segments.client", "segment_key", {}), "filters": cut.filters}
    gap_cells |= {"grain_column": grain[0], "grain_keys": grain[1]}
    gap_cells |= {slot: part(f"gap_more_{slot}").render() if full else "" for slot in ("counts", "window", "sums")}
    gap_cells |= {slot: part(f"gap_{slot}").render() if full else "" for slot in ("reask_counts", "reask_sums")}
    gap_cells["reask_source"] = reask_source(full)
    values = {
        **gap_cells,
        "dims": cut.dims,
        "group_by": cut.group_by,
        "histogram": MEASURES["router_latency" if full else "latency"],
        "pairs": "\n".join(pairs if full else pairs[:1]),
        "cells": query("gap_cells").render(**gap_cells),
        "moments": part("gap_more_moments").render() if full else "",
        "reask_moments": part("gap_reask_moments").render() if full else "",
        "reask_source": reask_source(full),
        "group": expression("task_type", "group_key", {}),
        # A source's table comes quoted (ingest/remote.py); one of the store's is a bare name from an allow-list.
        "table": "`otel`.`otel_traces`" if template.name.endswith("_page") else "requests",
        "partition": "202611",
        "cost": "cost / 1e9" if full else "NULL",
        "columns": '"request_id", "startTime"',
        "cluster": "fleet",
        "query": "SELECT count() FROM requests_live",
        "sharding_key": "cityHash64(request_id)" if full else "rand()",
        "segments": segment_columns(["language", "segments.client"] if full else ["language"], {}),
    }
    unknown = set(template.slots) - set(values)
    assert not unknown, f"{template.name}: give this test a representative value for the slot(s) {unknown}"
    return {slot: values[slot] for slot in template.slots}


@pytest.mark.parametrize("full", [True, False], ids=["full", "bare"])
def test_every_query_renders_into_sql_clickhouse_parses(store: Store, full: bool) -> None:
    rendered = 0
    for name in _names():
        template = query(name)
        sql = template.render(**_representative(template, full))
        assert "{{" not in sql and sql.strip()
        if name in POSTGRES:
            continue
        for statement in split_statements(sql):  # a session's setup is a few statements
            formatted = store.query_rows("SELECT formatQuery({q:String})", {"q": statement})[0][0]
            assert formatted.split()[0] == statement.split()[0].upper(), name
        rendered += 1
    assert rendered > 80


def test_a_metric_query_renders_its_cut_with_values_bound(store: Store) -> None:
    cut = render(["segments.client"], {"route": "x' OR 1=1 --"}, "day")
    sql = fill(query("metric_escalation_rate"), cut)
    assert (
        "toStartOfDay(ts) AS bucket,\n    if(mapContains(segments, {dk0:String}), segments[{dk0:String}],"
        " {missing_segment:String}) AS `segments.client`," in sql
    )
    assert cut.params == {"dk0": "client", "missing_segment": "(missing)", "wv0": "x' OR 1=1 --"}
    assert "\n    AND route = {wv0:String}\n" in sql and "OR 1=1" not in sql
    assert sql.rstrip().endswith("GROUP BY bucket, `segments.client`")
    # Left empty, a slot alone on its line takes the line with it.
    bare = fill(query("metric_escalation_rate"), render([], {}))
    assert bare.startswith("SELECT\n    count() AS requests,") and "GROUP BY" not in bare
    assert store.query_rows("SELECT formatQuery({q:String})", {"q": sql})[0][0].startswith("SELECT")


def _files(root: Path, **texts: str) -> Path:
    """sql/queries/ and sql/parts/ under ``root``: a name 'part_x' is the part x, any other name a query."""
    for folder in ("queries", "parts"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for name, body in texts.items():
        kind, key, stem = ("parts", "part", name[5:]) if name.startswith("part_") else ("queries", "name", name)
        (root / kind / f"{stem}.sql").write_text(f"-- {key}: {stem}\n-- params: none\n{body}\n", encoding="utf-8")
    return root


def test_a_part_is_included_with_its_slots_and_indentation(tmp_path: Path) -> None:
    root = _files(
        tmp_path,
        outer="-- slots: filters\nWITH inner AS\n(\n    {{> inner}}\n)\nSELECT n FROM inner\n{{filters}}",
        part_inner="-- slots: column\nSELECT\n    {{column}} AS n\nFROM t",
    )
    outer = load("outer", root=root)
    assert outer.slots == ("filters", "column")
    sql = outer.render(filters="WHERE n > 1", column="count()\n+ 1")
    inner = "    SELECT\n        count()\n        + 1 AS n\n    FROM t"
    assert sql == f"WITH inner AS\n(\n{inner}\n)\nSELECT n FROM inner\nWHERE n > 1"
    assert outer.render(filters="", column="1").endswith("SELECT n FROM inner")


@pytest.fixture
def template(tmp_path: Path) -> Query:
    root = _files(
        tmp_path, metric="-- slots: dims, filters\n-- returns: n\nSELECT {{dims}} count() AS n FROM t {{filters}}"
    )
    return load("metric", root=root)


def test_a_missing_slot_is_refused(template: Query) -> None:
    with pytest.raises(SlotError, match=r"metric: slot\(s\) filters not filled \(its slots: dims, filters\)"):
        template.render(dims="a,")


def test_an_unknown_slot_is_refused(template: Query) -> None:
    with pytest.raises(SlotError, match=r"metric: unknown slot\(s\) colour \(its slots: dims, filters\)"):
        template.render(dims="", filters="", colour="red")


def test_a_slot_left_in_the_sql_is_refused(template: Query) -> None:
    # A value is never searched for slots: {{filters}} in dims stays text, and the result is refused.
    with pytest.raises(SlotError, match=r"metric: \{\{filters\}\} is left in the rendered SQL"):
        template.render(dims="{{filters}}", filters="WHERE 1")
    with pytest.raises(SlotError, match=r"\{\{ oops \}\} is left"):
        template.render(dims="", filters="{{ oops }}")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            "-- slots: dims\nSELECT {{dims}} {{filters}} 1",
            r"the '-- slots:' line \(dims\) does not match .* \(dims, filters\)",
        ),
        ("-- slots: dims, filters\nSELECT {{dims}} 1", r"does not match the slots the SQL uses \(dims\)"),
        ("SELECT {{Dims}} 1", r"a \{\{...\}\} marker is neither"),
        ("SELECT 1 FROM (\n    {{> loop}}\n)", r"part 'loop' includes itself"),
        ("SELECT 1 FROM ({{> loop}})", r"an include, \{\{> part\}\}, stands alone on its line"),
    ],
    ids=["undeclared", "unused", "malformed", "cycle", "inline-include"],
)
def test_a_file_whose_markers_are_wrong_does_not_load(tmp_path: Path, body: str, error: str) -> None:
    root = _files(tmp_path, bad=body, part_loop="SELECT 1 FROM (\n    {{> loop}}\n)")
    with pytest.raises(ValueError, match=error):
        load("bad", root=root)


def test_an_unknown_query_or_part_is_a_key_error(tmp_path: Path) -> None:
    root = _files(tmp_path, outer="SELECT * FROM (\n    {{> nowhere}}\n)")
    with pytest.raises(KeyError, match="no part named 'nowhere'"):
        load("outer", root=root)
    with pytest.raises(KeyError, match="no query named 'nothing'"):
        query("nothing")


# `routewatch sql --show NAME`: the SQL that runs, with its bound parameters.


def _show(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["sql", "--show", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_sql_show_prints_a_metric_query_as_metrics_runs_it(
    loaded: tuple[Store, pd.DataFrame], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, frame = loaded
    monkeypatch.setenv("ROUTEWATCH_STORE", store.dsn)
    cut = ["--by", "language", "--where", "channel=chat", "--since", "2026-01-01", "--until", "2027-01-01"]
    code, out, _ = _show(capsys, "metric_escalation_rate", *cut)
    assert code == EXIT_OK
    sql, _, bound = out.partition("-- bound parameters (? for one routewatch binds from what it reads):\n")
    assert sql.endswith("GROUP BY `language`\n-- run with the setting prefer_column_name_to_alias = 1\n")
    assert "    language AS `language`,\n" in sql and "    AND channel = {wv0:String}\n" in sql
    assert bound.splitlines() == [
        "--   since DateTime64(3) = '2026-01-01T00:00:00+00:00'",
        "--   until DateTime64(3) = '2027-01-01T00:00:00+00:00'",
        "--   wv0 String = 'chat'",
    ]
    # The shown SQL, run with the shown values, gives the numbers of `metrics escalation_rate` over the rows.
    code, out, _ = _show(capsys, "metric_escalation_rate", *cut, "--format", "json")
    shown = json.loads(out)
    assert shown["params"]["wv0"] == {"type": "String", "value": "chat"}
    params = {
        name: datetime.fromisoformat(bound["value"]) if bound["type"].startswith("DateTime") else bound["value"]
        for name, bound in shown["params"].items()
    }
    assert params["since"] == datetime(2026, 1, 1, tzinfo=UTC)
    assert shown["settings"] == {"prefer_column_name_to_alias": 1}
    ran = store.query_df(shown["sql"], params, settings=shown["settings"]).set_index("language").sort_index()
    computed = compute(store, "escalation_rate", by=["language"], where={"channel": "chat"}, exact=True)
    assert ran["escalated"].tolist() == computed.set_index("language").sort_index()["escalated"].tolist()
    chat = frame[frame["channel"] == "chat"]
    assert ran["requests"].tolist() == chat.groupby("language").size().sort_index().tolist()


def test_sql_show_fills_the_rollup_the_gaps_and_the_plain_queries(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _show(capsys, "metric_error_rate_rollup", "--by", "route", "--bucket", "week")
    assert code == EXIT_OK and "toStartOfWeek(day, 1) AS bucket," in out and "since_day Date32 = '1970-01-01'" in out
    code, out, _ = _show(capsys, "gap_moments", "--by", "segments.native_speaker")
    assert code == EXIT_OK and "WITH modal AS" in out and "sum(cost_within * cost_within)" in out
    assert "--   segment_key String = 'native_speaker'" in out
    code, out, _ = _show(capsys, "gap_latency_sample", "--by", "language")
    assert code == EXIT_OK and "--   segments Array(String) = ?\n" in out
    code, out, _ = _show(capsys, "table_counts")
    assert code == EXIT_OK and out.strip() == query("table_counts").render()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["escalation_rate"],
            "queries; the metric escalation_rate runs metric_escalation_rate (metric_escalation_rate_rollup when",
        ),
        (["compact_partition"], "compact_partition: routewatch fills its slots (table, partition) at run time"),
        (["metric_csat_rollup", "--bucket", "hour"], "metric_csat_rollup reads rollup_daily, which keeps neither"),
        (["gap_cells", "--by", "language,channel"], "gap_cells compares the segments of one dimension"),
        (["metric_volume", "--by", "password"], "unknown dimension 'password'"),
    ],
    ids=["metric-name", "run-time-slots", "rollup-bucket", "two-segments", "bad-dimension"],
)
def test_sql_show_refuses_what_it_cannot_render(
    capsys: pytest.CaptureFixture[str], args: list[str], error: str
) -> None:
    code, out, err = _show(capsys, *args)
    assert code == EXIT_ERROR and not out and error in err


def test_sql_needs_a_statement_or_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql"]) == EXIT_ERROR
    assert "sql takes a statement, or --show NAME" in capsys.readouterr().err

"""The metric table (metrics/registry.py) is the one source: every entry is documented, every field is read, and
the gap tests, the verdicts' margins, the alerts, the CLI's help and the README all come from it.

That each metric computes the same numbers as pandas is tests/test_metrics.py's walk over the same table.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from alerts.verdicts import metric_facts
from cli.main import parser
from metrics.gaps import ALL_METRICS, BINARY, DEFAULT_METRICS, GAP_METRICS, GapSettings, Status
from metrics.registry import METRICS, GapTest, Metric, markdown_table
from routewatch.sqlfiles import part, query

ROOT = Path(__file__).resolve().parent.parent
CODE = ("metrics", "app", "alerts", "cli", "ingest")


def _attributes_read() -> set[str]:
    """Every ``x.name`` read in the product's code (the table's own module too: its README table and compute)."""
    found: set[str] = set()
    for package in CODE:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            found.update(node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute))
    return found


@pytest.mark.parametrize("field", [*dataclasses.fields(Metric), *dataclasses.fields(GapTest)], ids=lambda f: f.name)
def test_every_field_of_the_table_is_read_by_code(field: dataclasses.Field[object]) -> None:
    assert field.name in _attributes_read(), f"no code reads the metric table's field {field.name!r}"


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.name)
def test_every_entry_is_documented_and_has_its_query(metric: Metric) -> None:
    assert metric.label and metric.unit and metric.help
    assert query(metric.sql).name == metric.sql
    if metric.rollup:
        assert query(f"{metric.sql}_rollup").name == f"{metric.sql}_rollup"
    assert f"| `{metric.name}` ({metric.label}, {metric.unit}) |" in markdown_table()


@pytest.mark.parametrize("metric", [m for m in METRICS if m.gap], ids=lambda m: m.name)
def test_a_gap_metric_is_judged_by_its_kind_with_its_margin(metric: Metric) -> None:
    assert metric.gap is not None and metric.margin is not None
    name = metric.gap.name
    assert name in ALL_METRICS and GAP_METRICS[name] is metric
    assert GapSettings().delta[name] == metric.margin  # the verdicts' margin is the table's
    facts = metric_facts(name)
    assert (facts.margin, facts.better, facts.label, facts.relative) == (
        metric.margin,
        metric.better,
        metric.gap.label,
        metric.kind in ("quantile", "mean"),
    )
    if metric.kind == "binary":
        events, trials = BINARY[name]
        assert (events, trials) == metric.gap.sums
        # gap_cells with the parts its sums slots can take (the re-asks' too)
        sql = query("gap_cells").text + "".join(part(name).text for name in ("gap_more_sums", "gap_reask_sums"))
        for column in (events, trials):  # sums of sql/queries/gap_cells.sql
            assert re.search(rf"\bAS {column}\b", sql), column
    assert (name in DEFAULT_METRICS) == metric.gap.default


def test_the_readme_table_is_the_metric_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = readme.split("<!-- end of metric table -->")[0].split("a test keeps it equal -->\n")[-1].strip()
    assert shown == markdown_table(), "README's metric table is stale: paste `python -m metrics.registry` into it"


def test_the_command_line_offers_every_metric_from_the_table() -> None:
    subcommands = next(a for a in parser()._actions if a.dest == "command").choices
    assert subcommands is not None
    metrics_choices = next(a for a in subcommands["metrics"]._actions if a.dest == "name").choices
    assert set(metrics_choices or ()) >= {m.name for m in METRICS}
    gap_help = next(a for a in subcommands["gaps"]._actions if a.dest == "metric").help or ""
    assert all(name in gap_help for name in ALL_METRICS)


def test_the_app_takes_statuses_from_the_enum_never_as_strings() -> None:
    words = {status.value for status in Status}
    copied = []
    for path in (ROOT / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in words:
                copied.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert not copied, "use metrics.gaps.Status:\n" + "\n".join(copied)


def test_every_headline_number_takes_its_direction_from_the_table() -> None:
    from metrics import registry
    from metrics.overview import KPIS

    for kpi in KPIS:
        entry = registry.get(kpi.metric)  # UnknownMetric for a KPI the table does not know
        assert kpi.better == entry.better and kpi.help


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.name)
def test_every_column_of_every_metric_has_a_label_and_a_format(metric: Metric) -> None:
    from metrics.registry import COLUMN_FORMATS

    missing = [c for c in metric.columns if c not in COLUMN_FORMATS]
    assert not missing, f"{metric.name}: no label or format for {missing} in metrics.registry.COLUMN_FORMATS"


def test_a_metric_label_is_written_once_and_read_everywhere() -> None:
    """A label changed in the table changes the tiles, the table headers and the sentences: no other file of the
    product restates a metric's label or its gap label."""
    from metrics.overview import KPIS
    from metrics.registry import COLUMN_FORMATS

    labels = {m.label for m in METRICS} | {m.gap.label for m in METRICS if m.gap}
    restated = []
    for package in CODE:
        for path in (ROOT / package).rglob("*.py"):
            if path == ROOT / "metrics" / "registry.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip() in labels:
                    restated.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert not restated, "read the label from metrics.registry:\n" + "\n".join(restated)
    for metric in METRICS:
        if metric.name in metric.columns:
            assert COLUMN_FORMATS[metric.name][0] == metric.label
    for kpi in KPIS:
        if kpi.own_label is None:
            assert kpi.label == registry_label(kpi.metric)
    assert [k.name for k in KPIS if k.own_label is None] == [
        "cost_per_resolved", "escalation_rate", "resolution_rate", "thumbs_up_rate", "error_rate", "cheap_share"
    ]  # fmt: skip


def registry_label(name: str) -> str:
    """A metric's label in the table."""
    return next(m.label for m in METRICS if m.name == name)

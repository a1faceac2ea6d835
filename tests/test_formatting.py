"""The dashboard's words and units (app.formatting): what a person reads for each raw value."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from app import formatting
from metrics.gaps import STATUS_LABELS, Status
from metrics.registry import COLUMN_FORMATS


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.00799183, "$0.00799"),  # the all-in cost: three significant digits, not eight
        (0.0137, "$0.0137"),
        (0.5, "$0.500"),
        (12.3, "$12.30"),
        (266.71, "$267"),
        (1234.5, "$1,234"),
        (-2.52, "-$2.52"),
        (-0.05, "-$0.0500"),
        (0.0, "$0.00"),
        (math.nan, "n/a"),
    ],
)
def test_money_has_its_currency_and_a_sensible_precision(value: float, shown: str) -> None:
    assert formatting.usd(value) == shown


def test_milliseconds_have_no_decimals_and_counts_have_thousands_separators() -> None:
    assert formatting.ms(1407.1048) == "1,407 ms"
    assert formatting.ms(99.5) == "100 ms"
    assert formatting.count(1234567) == "1,234,567"
    assert formatting.count(None) == "n/a"  # type: ignore[arg-type]


def test_rates_read_as_percentages_and_their_differences_in_points() -> None:
    assert formatting.percent(0.7521) == "75.2%"
    assert formatting.points(-0.1187) == "-11.9 pp"
    assert formatting.points(0.03) == "+3.0 pp"
    assert formatting.points(0.00001) == "0.0 pp"  # no sign on a change that rounds to nothing
    assert formatting.relative(0.169) == "+16.9%"


def test_a_gap_reads_in_its_metrics_unit_with_its_interval() -> None:
    # A rate's gap in points, a quantile's (p95 latency) as a relative change, each with its 95% interval.
    assert formatting.gap_interval("resolution_rate", -0.117, -0.135, -0.099) == "-11.7 pp (-13.5 to -9.9)"
    assert formatting.gap_interval("latency_p95", 0.169, 0.101, 0.24) == "+16.9% (+10.1% to +24.0%)"
    assert formatting.gap_interval("resolution_rate", -0.117, math.nan, math.nan) == "-11.7 pp"
    assert formatting.metric_value("resolution_rate", 0.639) == "63.9%"
    assert formatting.metric_value("latency_p95", 2765.4) == "2,765 ms"
    assert formatting.metric_value("cost_per_request", 0.0121) == "$0.0121"
    assert formatting.metric_value("csat", 4.213) == "4.21"


def test_p_values_read_in_scientific_notation() -> None:
    assert formatting.pvalue(7.4e-23) == "7.4 × 10⁻²³"
    assert formatting.pvalue(0.0004) == "4.0 × 10⁻⁴"
    assert formatting.pvalue(0.042) == "0.042"
    assert formatting.pvalue(0.0) == "< 10⁻³⁰⁰"


def test_every_column_of_the_metric_table_has_a_human_label_and_a_format() -> None:
    for column, (words, kind) in COLUMN_FORMATS.items():
        assert formatting.label(column) == words
        assert "_" not in words
        assert formatting.by_format(kind, 1234.5) != "1234.5", column  # every format changes the raw text
    assert formatting.label("latency_p95") == "p95 latency"
    assert formatting.label("thumbs_up_rate") == "Thumbs-up rate"
    assert formatting.label("explained_by_task_mix") != "explained_by_task_mix"
    assert formatting.label("segments.plan") == "Plan"
    assert formatting.status(Status.EXPLAINED_BY_TASK_MIX) == STATUS_LABELS[Status.EXPLAINED_BY_TASK_MIX]


def test_a_gap_is_worse_by_the_metrics_better_direction() -> None:
    assert formatting.gap_direction("resolution_rate", -0.1) == "worse"  # higher is better
    assert formatting.gap_direction("resolution_rate", 0.03) == "better"
    assert formatting.gap_direction("latency_p95", 0.2) == "worse"  # lower is better
    assert formatting.gap_direction("escalation_rate", -0.07) == "different"  # neither direction is better


def test_the_costs_sentence_gives_all_in_against_naive_with_its_numbers() -> None:
    by_route = pd.DataFrame(
        {
            "route": ["cheap", "frontier"],
            "cost_usd": [266.71, 67.40],
            "model_cost_usd": [14.46, 55.80],
            "priced": [37228, 5060],
            "priced_resolved": [22218, 3656],
            "cost_per_resolved": [266.71 / 22218, 67.40 / 3656],
        }
    )
    sentence = formatting.costs_sentence(by_route)
    all_in = (266.71 + 67.40) / (22218 + 3656)
    naive = (14.46 + 55.80) / (37228 + 5060)
    assert f"costs **{formatting.usd(all_in)}** all-in" in sentence
    assert f"naive **{formatting.usd(naive)}**" in sentence
    assert f"**{all_in / naive:.1f}×**" in sentence
    assert sentence.endswith("cheap $0.0120; frontier $0.0184.")


def test_a_table_shows_words_and_its_download_keeps_the_machine_names() -> None:
    from app.components import display
    from routewatch.output import csv_text

    gaps = pd.DataFrame(
        {"segment": ["hi"], "metric": ["thumbs_up_rate"], "status": ["explained_by_task_mix"], "p_adjusted": [1e-9]}
    )
    shown = display.shown_frame(gaps)
    assert shown.loc[0, "metric"] == "Thumbs-up rate" and shown.loc[0, "status"] == "⇄ Task mix"
    labels = {column: config["label"] for column, config in display.human_columns(gaps).items()}
    assert labels == {"segment": "Segment", "metric": "Metric", "status": "Status", "p_adjusted": "Adjusted p-value"}
    header, row = csv_text(gaps).splitlines()[:2]
    assert header == "segment,metric,status,p_adjusted" and "thumbs_up_rate,explained_by_task_mix" in row


def test_a_gap_at_the_same_task_mix_carries_its_own_interval() -> None:
    """The dashboard shows the gap a status judges (the adjusted one) with adjusted_gap ± 1.96 adjusted_se, and keeps
    the raw gap and interval where no adjusted standard error exists."""
    table = pd.DataFrame({"gap": [-0.12, 0.07], "ci_low": [-0.14, 0.05], "ci_high": [-0.10, 0.09],
                          "adjusted_gap": [-0.10, 0.01], "adjusted_se": [0.01, math.nan]})  # fmt: skip
    shown = formatting.at_same_task_mix(table)
    assert shown["gap"].tolist() == [-0.10, 0.07] and shown["raw_gap"].tolist() == [-0.12, 0.07]
    assert shown["ci_low"].tolist() == pytest.approx([-0.10 - 1.959964 * 0.01, 0.05])
    assert shown["ci_high"].tolist() == pytest.approx([-0.10 + 1.959964 * 0.01, 0.09])
    assert table["gap"].tolist() == [-0.12, 0.07]  # the table itself is unchanged

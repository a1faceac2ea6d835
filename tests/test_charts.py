"""The figure builders: pure functions of a frame, checked without Streamlit."""

from __future__ import annotations

import pandas as pd
import pytest

from app.components import charts


def _gaps() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "segment": ["hi", "de", "ja"],
            "reference": ["en"] * 3,
            "metric": ["resolution_rate"] * 3,
            "gap": [-0.11, -0.01, 0.002],
            "ci_low": [-0.14, -0.03, -0.02],
            "ci_high": [-0.08, 0.01, 0.02],
            "status": ["confirmed", "no_evidence", "equivalent"],
            "requests": [9000, 7000, 6500],
            "p_adjusted": [1e-9, 0.4, 0.9],
        }
    )


def test_forest_draws_one_trace_per_status_with_asymmetric_intervals_in_points() -> None:
    figure = charts.forest(_gaps(), "gaps")
    assert [t.name for t in figure.data] == ["✖ Real gap", "○ No evidence", "✔ Served the same"]
    confirmed = figure.data[0]
    assert confirmed.marker.color == charts.STATUS_COLORS["confirmed"]
    assert confirmed.marker.symbol == charts.STATUS_MARKERS["confirmed"]
    assert abs(confirmed.x[0] - -11.0) < 1e-9  # a rate's gap in percentage points
    assert abs(confirmed.error_x.arrayminus[0] - 3.0) < 1e-9
    assert abs(confirmed.error_x.array[0] - 3.0) < 1e-9
    assert figure.layout.xaxis.ticksuffix == " pp"
    # Under each segment's name, its users and requests.
    assert "9,000 requests" in confirmed.y[0]


def test_forest_shades_each_metrics_margin_and_keeps_a_panel_per_metric() -> None:
    latency = _gaps().assign(metric="latency_p95", gap=[0.3, 0.05, -0.01], ci_low=[0.2, -0.02, -0.05],
                             ci_high=[0.4, 0.12, 0.03])  # fmt: skip
    figure = charts.forest(pd.concat([_gaps(), latency]), "")
    bands = [s for s in figure.layout.shapes if s.type == "rect"]
    # Resolution rate's margin is 3 points, p95 latency's 15% (the metric table's).
    assert sorted((b.x0, b.x1) for b in bands) == [(-15.0, 15.0), (-3.0, 3.0)]
    assert [a.text for a in figure.layout.annotations][:2] == ["Resolution rate", "p95 latency"]
    assert figure.layout.xaxis2.ticksuffix == "%"
    # Each panel's band, zero line and axes belong to that panel.
    assert [(b.xref, b.yref) for b in bands] == [("x", "y domain"), ("x2", "y2 domain")]
    assert (figure.layout.xaxis2.anchor, figure.layout.yaxis2.anchor) == ("y2", "x2")
    assert {t.xaxis for t in figure.data} == {"x", "x2"} and {t.yaxis for t in figure.data} == {"y", "y2"}
    # One legend entry per status, however many panels it appears in.
    assert sorted(t.name for t in figure.data if t.showlegend) == sorted(set(t.name for t in figure.data))


@pytest.mark.parametrize("sizes", [[2], [3, 3], [2, 5, 3, 4], [6, 2, 2, 2, 9]])
def test_the_forest_panels_are_stacked_as_plotlys_subplots_stack_them(sizes: list[int]) -> None:
    """The forest plot lays its panels out itself (plotly's subplot API took most of a page's script): the same
    domains as ``make_subplots`` gives for the same heights and spacing."""
    from plotly.subplots import make_subplots

    spacing = min(0.12, 0.35 / len(sizes))
    reference = make_subplots(
        rows=len(sizes), cols=1, row_heights=[s / sum(sizes) for s in sizes], vertical_spacing=spacing
    )
    expected = [reference.layout[f"yaxis{n if n > 1 else ''}"].domain for n in range(1, len(sizes) + 1)]
    domains = charts._panel_domains(sizes, spacing)
    assert [end for domain in domains for end in domain] == pytest.approx([end for d in expected for end in d])


def test_heatmap_puts_every_cell_in_its_place() -> None:
    cells = pd.DataFrame(
        {"language": ["en", "en", "hi", "hi"], "channel": ["chat", "api", "chat", "api"], "rate": [0.1, 0.2, 0.3, 0.4]}
    )
    figure = charts.heatmap(cells, "language", "channel", "rate", "rates", percent=True)
    z = figure.data[0].z
    assert list(figure.data[0].x) == ["en", "hi"] and list(figure.data[0].y) == ["api", "chat"]
    assert z[0][1] == 0.4 and z[1][0] == 0.1


def test_shares_stack_to_one_per_segment() -> None:
    mix = pd.DataFrame({"language": ["en", "en", "de"], "task_type": ["code", "chat", "code"], "requests": [1, 3, 2]})
    figure = charts.shares(mix, "language", "task_type", "requests", "mix")
    total: dict[str, float] = {}
    for trace in figure.data:
        for x, y in zip(trace.x, trace.y, strict=True):
            total[x] = total.get(x, 0) + y
    assert total == {"en": 1.0, "de": 1.0}


def test_lines_and_cost_quality_keep_one_series_per_group() -> None:
    frame = pd.DataFrame(
        {
            "bucket": pd.to_datetime(["2026-10-01", "2026-10-02"] * 2),
            "route": ["cheap", "cheap", "mid", "mid"],
            "cost_per_resolved": [0.01, 0.011, 0.02, 0.021],
            "resolution_rate": [0.7, 0.71, 0.8, 0.81],
            "requests": [10, 11, 5, 6],
            "cost_per_request": [0.005, 0.005, 0.01, 0.01],
        }
    )
    assert [t.name for t in charts.lines(frame, "bucket", "resolution_rate", "route", "t", "y").data] == [
        "cheap",
        "mid",
    ]
    assert len(charts.cost_quality(frame, "route", "t").data) == 2


def test_every_status_has_its_own_colour_marker_and_label() -> None:
    from metrics.gaps import STATUS_LABELS, Status

    for styles in (charts.STATUS_COLORS, charts.STATUS_MARKERS, STATUS_LABELS):
        assert set(styles) == set(Status) and len(set(styles.values())) == len(Status)


def test_the_cost_quality_chart_keeps_its_rate_axis_within_100_percent() -> None:
    # Bubbles near the top padded the axis to 150% before.
    frame = pd.DataFrame(
        {
            "route": ["cheap", "frontier"],
            "cost_per_resolved": [0.012, 0.018],
            "resolution_rate": [0.97, 0.995],
            "requests": [40000, 5000],
            "cost_per_request": [0.0004, 0.011],
        }
    )
    figure = charts.cost_quality(frame, "route", "By route")
    assert figure.layout.yaxis.range[0] == 0 and figure.layout.yaxis.range[1] <= 1
    assert figure.layout.xaxis.tickprefix == "$" and figure.layout.xaxis.rangemode == "tozero"


def test_a_rate_axis_stays_within_0_and_100_percent_and_the_legend_clears_the_title() -> None:
    frame = pd.DataFrame({"route": ["cheap", "frontier"], "resolution_rate": [0.97, 0.99], "m": ["a", "b"]})
    figure = charts.bars(frame, "route", "resolution_rate", "Resolution", "resolved", color="m", percent=True)
    axis = figure.layout.yaxis
    assert axis.rangemode == "tozero" and axis.autorangeoptions.clipmax == 1 and axis.autorangeoptions.clipmin == 0
    assert figure.layout.yaxis.range[0] == 0 and figure.layout.yaxis.range[1] == 1  # 99% cannot pad past 100%
    # The legend at the bottom of the figure, the title at its top.
    assert figure.layout.legend.yref == "container" and figure.layout.legend.y == 0
    assert figure.layout.title.yref == "container" and figure.layout.title.y > 0.9
    assert figure.layout.margin.b >= 80  # room for the legend under the axis
    low = charts.lines(frame.assign(resolution_rate=[0.01, 0.02]), "route", "resolution_rate", None, "", "", True)
    assert 0.02 < low.layout.yaxis.range[1] < 0.05  # a small rate is not flattened against a 100% axis


def test_a_route_keeps_its_colour_from_chart_to_chart() -> None:
    # The data of one chart lists mid first, the other's cheap first: the colours follow the names, not the rows.
    one = pd.DataFrame({"task": ["a", "a"], "route": ["mid", "cheap"], "cost": [0.02, 0.01]})
    other = pd.DataFrame({"day": [1, 1], "route": ["cheap", "mid"], "rate": [0.5, 0.6]})
    bars = {t.name: t.marker.color for t in charts.bars(one, "task", "cost", "", "", "route", money=True).data}
    lines = {t.name: t.line.color for t in charts.lines(other, "day", "rate", "route", "", "", percent=True).data}
    assert bars == lines and bars["cheap"] != bars["mid"]


def test_a_group_whose_field_was_not_sent_is_named_in_charts_and_tables() -> None:
    """Trial finding: requests without a task_type showed as a blank bar and a blank row on Costs."""
    from app.components.display import shown_frame

    frame = pd.DataFrame({"task_type": ["code", "", "math"], "cost_per_resolved": [0.01, 0.02, 0.03]})
    figure = charts.bars(frame, "task_type", "cost_per_resolved", "", "cost")
    assert sorted(figure.data[0].x) == ["(not set)", "code", "math"]
    assert list(shown_frame(frame)["task_type"]) == ["code", "(not set)", "math"]
    assert list(frame["task_type"]) == ["code", "", "math"]  # the download keeps the stored value
    gaps = pd.DataFrame({"metric": ["resolution_rate"], "segment": [""], "reference": ["code"], "status": ["confirmed"],
                         "gap": [-0.1], "ci_low": [-0.12], "ci_high": [-0.08], "requests": [100]})  # fmt: skip
    assert "(not set)" in charts.forest(gaps, "").data[0].y[0]


def test_the_forest_axis_names_what_the_gaps_are_measured_against() -> None:
    assert charts.forest(_gaps(), "").layout.xaxis.title.text == "gap against the reference, points"
    shadow = charts.forest(_gaps(), "", against="the disagreements")  # the Shadow page's quality plot
    assert shadow.layout.xaxis.title.text == "gap against the disagreements, points"


def test_the_escalated_groups_are_named_in_words() -> None:
    frame = pd.DataFrame({"escalated": ["false", "true"], "latency_ms": [100.0, 100.0], "share": [0.5, 0.5]})
    assert sorted(trace.name for trace in charts.distribution(frame, "escalated", "").data) == [
        "escalated",
        "not escalated",
    ]
    assert charts.distribution(frame, "escalated", "").layout.xaxis.dtick == 1  # a tick per power of ten


def test_each_forest_panel_shows_its_whole_margin_band_and_every_interval() -> None:
    figure = charts.forest(_gaps(), "")  # resolution rate: margin 3 points, intervals from -14 to +2 points
    low, high = figure.layout.xaxis.range
    assert low < -14 and high > 3


def test_routes_read_from_cheapest_to_dearest(monkeypatch: pytest.MonkeyPatch) -> None:
    """PM trial: cheap, frontier, mid (by name) read as if frontier were the middle tier."""
    monkeypatch.setenv("ROUTEWATCH_ROUTE_ORDER", "cheap,mid,frontier")
    frame = pd.DataFrame({"route": ["frontier", "cheap", "mid", "other"], "cost": [0.03, 0.01, 0.02, 0.05]})
    assert list(charts.bars(frame, "route", "cost", "", "").layout.xaxis.categoryarray) == [
        "cheap", "mid", "frontier", "other",
    ]  # fmt: skip
    by_colour = charts.bars(frame.assign(task="a"), "task", "cost", "", "", "route")
    assert [trace.name for trace in by_colour.data] == ["cheap", "mid", "frontier", "other"]


def test_the_traces_take_their_colours_from_the_default_template_and_the_layout_is_white(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In the dashboard the default template is Streamlit's theme, whose colours the browser maps to the theme's
    palette: a figure sets plotly_white for its layout only, and the charts never change the process's default."""
    import importlib

    import plotly.io as pio

    monkeypatch.setattr(pio.templates, "default", "ggplot2")
    importlib.reload(charts)  # what importing the module does to the default
    assert pio.templates.default == "ggplot2"
    frame = pd.DataFrame({"day": [1, 2, 1, 2], "rate": [0.1, 0.2, 0.3, 0.4], "route": ["cheap"] * 2 + ["mid"] * 2})
    figure = charts.lines(frame, "day", "rate", "route", "", "rate", percent=True)
    assert [trace.line.color for trace in figure.data] == list(pio.templates["ggplot2"].layout.colorway[:2])
    assert figure.layout.template.layout.plot_bgcolor == pio.templates["plotly_white"].layout.plot_bgcolor

"""Figures of the dashboard. Each takes a tidy DataFrame and returns a plotly figure."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from app import formatting
from metrics.gaps import GAP_METRICS, MARGINS, STATUS_LABELS, Status
from routewatch.settings import SettingsError, load_settings

# Status colours read the same on every page, from the Okabe-Ito palette (safe for colour-blind readers), and each
# status also has its own marker and label (STATUS_LABELS), so no reading depends on colour alone.
STATUS_COLORS: dict[str, str] = {
    Status.CONFIRMED: "#D55E00",  # vermillion
    Status.WARNING: "#E69F00",  # orange
    Status.EXPLAINED_BY_TASK_MIX: "#CC79A7",  # reddish purple
    Status.UNDERPOWERED: "#999999",
    Status.INSUFFICIENT_DATA: "#C8C8C8",
    Status.NONRESPONSE_BIASED: "#56B4E9",  # sky blue
    Status.BELOW_MARGIN: "#C7B200",  # Okabe-Ito's yellow (#F0E442), darkened to be seen on white
    Status.EQUIVALENT: "#009E73",  # bluish green
    Status.NO_EVIDENCE: "#0072B2",  # blue
    Status.MODEL_FAILED: "#000000",
}
STATUS_MARKERS: dict[str, str] = {
    Status.CONFIRMED: "x",
    Status.WARNING: "triangle-up",
    Status.EXPLAINED_BY_TASK_MIX: "diamond",
    Status.UNDERPOWERED: "circle-open",
    Status.INSUFFICIENT_DATA: "circle-open-dot",
    Status.NONRESPONSE_BIASED: "square-open",
    Status.BELOW_MARGIN: "triangle-down-open",
    Status.EQUIVALENT: "circle",
    Status.NO_EVIDENCE: "square",
    Status.MODEL_FAILED: "asterisk-open",
}
HEIGHT = 360
# Columns whose values are routes, shown from cheapest to dearest.
ROUTE_COLUMNS = frozenset({"route", "final_route", "shadow_route"})


def _rate_top(fig: go.Figure) -> float:
    """The top of a rate axis: a little above the highest value (so a line near the top stays visible), never
    past 100%; stacked bars add up."""
    highest = 0.0
    if fig.layout.barmode == "stack":
        totals: dict[object, float] = {}
        for trace in fig.data:
            xs, ys = (trace.x if trace.x is not None else []), (trace.y if trace.y is not None else [])
            for x, y in zip(xs, ys, strict=False):
                if y is not None and not pd.isna(y):
                    totals[x] = totals.get(x, 0.0) + float(y)
        highest = max(totals.values(), default=0.0)
    else:
        for trace in fig.data:
            values = pd.to_numeric(pd.Series(trace.y if trace.y is not None else [], dtype=object), errors="coerce")
            if values.notna().any():
                highest = max(highest, float(values.max()))
    return min(1.0, max(highest * 1.12, 0.01))


def _has_legend(fig: go.Figure) -> bool:
    return len({t.name for t in fig.data if t.name and t.showlegend is not False}) > 1


def _route_order() -> tuple[str, ...]:
    """The routes from cheapest to dearest (ROUTEWATCH_ROUTE_ORDER); none when the settings cannot be read."""
    try:
        return load_settings().route_order
    except SettingsError:
        return ()


def _orders(frame: pd.DataFrame, *columns: str | None) -> dict[str, list[object]]:
    """The values of each of ``columns`` in a fixed order, so that a route (or a segment) keeps its place and colour
    from chart to chart: routes from cheapest to dearest (the route order), anything else sorted by name."""
    orders: dict[str, list[object]] = {}
    for column in columns:
        if column is None or column not in frame:
            continue
        values = sorted(frame[column].dropna().unique(), key=str)
        if column in ROUTE_COLUMNS:
            rank = {route: i for i, route in enumerate(_route_order())}
            values.sort(key=lambda value: rank.get(str(value), len(rank)))  # stable: unknown routes stay by name
        orders[column] = values
    return orders


def _labels(frame: pd.DataFrame) -> dict[str, str]:
    """Every column of ``frame`` as a person names it, for axes, legends and tooltips."""
    return {str(column): formatting.label(str(column)) for column in frame.columns}


def _frame(title: str, legend: bool) -> dict[str, object]:
    """The layout every figure shares: its title top left, its height, the legend under the plot."""
    return {
        "title": {"text": title, "x": 0, "xanchor": "left", "y": 0.98, "yanchor": "top", "yref": "container"},
        "height": HEIGHT,
        "margin": {"l": 10, "r": 10, "t": 50 if title else 20, "b": 90 if legend else 10},
        # Below the plot and its axis title, at the bottom of the figure: a legend above the plot sat on the title.
        "legend": {"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0.0, "x": 0, "title": None},
        # The layout's template only: the traces keep the colours of the process's default template (Streamlit's
        # theme in the dashboard, which the browser maps to the theme's palette).
        "template": "plotly_white",
        "hoverlabel": {"align": "left"},
    }


def _finish(
    fig: go.Figure, title: str, y_title: str | None = None, percent: bool = False, money: bool = False
) -> go.Figure:
    fig.update_layout(_frame(title, _has_legend(fig)))
    if y_title is not None:
        fig.update_yaxes(title=y_title)
    if money:
        fig.update_yaxes(tickprefix="$", tickformat=",.3~g", rangemode="tozero")
    if percent:  # a rate never reads past 0% or 100%, whatever the markers' padding asks for
        top = _rate_top(fig)
        fig.update_yaxes(
            tickformat=".0%" if top > 0.1 else ".1%",  # ticks of a few percent need a decimal to differ
            rangemode="tozero",
            range=[0, top],
            autorangeoptions={"clipmin": 0, "clipmax": 1},
        )
    return fig


def lines(
    frame: pd.DataFrame,
    x: str,
    y: str,
    color: str | None,
    title: str,
    y_title: str,
    percent: bool = False,
    ms: bool = False,
) -> go.Figure:
    """One line per value of ``color`` (or one line), markers on each point; ``percent``: a rate within 0-100%,
    ``ms``: milliseconds from zero."""
    frame = formatting.name_groups(frame)
    fig = px.line(
        frame, x=x, y=y, color=color, markers=True, labels=_labels(frame), category_orders=_orders(frame, color)
    )
    fig.update_xaxes(title=None)  # time or a named category: the axis speaks for itself
    if ms:
        fig.update_yaxes(ticksuffix=" ms", tickformat=",.0f", rangemode="tozero")
    return _finish(fig, title, y_title, percent)


def bars(
    frame: pd.DataFrame,
    x: str,
    y: str,
    title: str,
    y_title: str,
    color: str | None = None,
    percent: bool = False,
    stacked: bool = False,
    money: bool = False,
) -> go.Figure:
    """Grouped (or stacked) bars, from zero; ``money``: dollars on the axis, ``percent``: a share within 0-100%."""
    frame = formatting.name_groups(frame)
    fig = px.bar(
        frame,
        x=x,
        y=y,
        color=color,
        barmode="stack" if stacked else "group",
        labels=_labels(frame),
        category_orders=_orders(frame, color, x),
    )
    fig.update_yaxes(rangemode="tozero")  # a bar's length is its value: bars start at zero
    return _finish(fig, title, y_title, percent, money)


def sparkline(frame: pd.DataFrame, x: str, y: str, percent: bool = False) -> go.Figure:
    """A small trend line without axes, for a headline number."""
    fig = go.Figure(go.Scatter(x=frame[x], y=frame[y], mode="lines", line={"width": 2, "color": "#2f5bea"}))
    fig.update_layout(height=70, margin={"l": 0, "r": 0, "t": 0, "b": 0}, template="plotly_white", showlegend=False)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, tickformat=".0%" if percent else None)
    return fig


def cost_quality(frame: pd.DataFrame, label: str, title: str) -> go.Figure:
    """Cost per resolved request against resolution rate, one bubble per ``label`` sized by volume."""
    frame = formatting.name_groups(frame)
    fig = px.scatter(
        frame,
        x="cost_per_resolved",
        y="resolution_rate",
        size="requests",
        color=label,
        text=label,
        hover_data={"requests": ":,", "cost_per_request": ":$.3~g", "cost_per_resolved": ":$.3~g"},
        labels=_labels(frame),
        category_orders=_orders(frame, label),
    )
    fig.update_traces(textposition="bottom center", cliponaxis=False)
    costs = pd.to_numeric(frame["cost_per_resolved"], errors="coerce")
    right = float(costs.max()) * 1.2 if costs.notna().any() and costs.max() > 0 else None
    fig.update_xaxes(title="all-in cost per resolved request", tickprefix="$", tickformat=",.3~g", rangemode="tozero")
    if right is not None:  # room for the rightmost bubble and its name
        fig.update_xaxes(range=[0, right])
    fig = _finish(fig, title, formatting.label_of("resolution_rate"), percent=True)
    rates = pd.to_numeric(frame["resolution_rate"], errors="coerce")
    if rates.notna().any():  # room above the highest bubble, never past 100%
        fig.update_yaxes(range=[0, min(1.0, float(rates.max()) + 0.1)])
    return fig


def _forest_label(row: pd.Series, with_dimension: bool) -> str:
    name = f"{row['dimension']} = {row['segment']}" if with_dimension else str(row["segment"])
    reach = []
    if "users" in row and not pd.isna(row["users"]):
        reach.append(f"{formatting.count(row['users'])} users")
    if "requests" in row and not pd.isna(row["requests"]):
        reach.append(f"{formatting.count(row['requests'])} requests")
    return f"<b>{name}</b><br><span style='font-size:11px;color:#555'>{' · '.join(reach)}</span>"


def _panel_domains(sizes: list[int], spacing: float) -> list[tuple[float, float]]:
    """Vertical domains (bottom, top) of stacked panels, first on top, each as tall as its share of ``sizes``."""
    room = 1.0 - spacing * (len(sizes) - 1)
    domains, top = [], 1.0
    for size in sizes:
        bottom = max(0.0, top - room * size / sum(sizes))
        domains.append((bottom, top))
        top = bottom - spacing
    return domains


def forest(
    gaps: pd.DataFrame, title: str, margins: dict[str, float] | None = None, against: str = "the reference"
) -> go.Figure:
    """Each segment's gap with its 95% interval against the margin band, one panel per metric (points for a rate,
    a relative change for p95 latency and cost), coloured and marked by status, the segment's users and requests
    under its name. ``margins``: each metric's practical margin (the metric table's unless given); ``against``:
    what the gaps are measured against, for the axis title."""
    margins = {**MARGINS, **(margins or {})}
    gaps = formatting.name_groups(gaps)
    frame = gaps.assign(
        x=gaps["gap"] * 100,
        minus=(gaps["gap"] - gaps["ci_low"]) * 100,
        plus=(gaps["ci_high"] - gaps["gap"]) * 100,
    )
    with_dimension = "dimension" in frame and frame["dimension"].nunique() > 1
    frame["label"] = [_forest_label(row, with_dimension) for _, row in frame.iterrows()]
    metrics = list(dict.fromkeys(frame["metric"]))
    sizes = [max(2, int((frame["metric"] == m).sum())) for m in metrics]
    domains = _panel_domains(sizes, spacing=min(0.12, 0.35 / max(1, len(metrics))))
    # The figure is written out whole and built once: plotly's incremental API (subplots, add_vrect, update_xaxes)
    # took ten times as long, most of the Segments page's script.
    traces: list[dict[str, object]] = []
    shapes: list[dict[str, object]] = []
    titles: list[dict[str, object]] = []
    layout: dict[str, object] = {"annotations": titles, "shapes": shapes}
    shown: set[str] = set()
    for number, (metric, (bottom, top)) in enumerate(zip(metrics, domains, strict=True), start=1):
        x_ref, y_ref = ("x", "y") if number == 1 else (f"x{number}", f"y{number}")
        mine = frame[frame["metric"] == metric]
        relative = metric in GAP_METRICS and GAP_METRICS[metric].relative
        margin = margins.get(metric)
        for status, group in mine.groupby("status", sort=False):
            name = STATUS_LABELS.get(str(status), str(status))
            color = STATUS_COLORS.get(str(status), "#333333")
            traces.append(
                {
                    "type": "scatter",
                    "x": group["x"].to_numpy(),
                    "y": group["label"].to_numpy(),
                    "xaxis": x_ref,
                    "yaxis": y_ref,
                    "mode": "markers",
                    "name": name,
                    "legendgroup": name,
                    "showlegend": name not in shown,
                    "marker": {
                        "color": color,
                        "symbol": STATUS_MARKERS.get(str(status), "circle"),
                        "size": 12,
                        "line": {"width": 2, "color": color},
                    },
                    "error_x": {
                        "type": "data",
                        "symmetric": False,
                        "array": group["plus"].to_numpy(),
                        "arrayminus": group["minus"].to_numpy(),
                        "color": color,
                        "thickness": 2,
                    },
                    "text": _forest_hover(metric, name, group),
                    "hovertemplate": "%{text}<extra></extra>",
                }
            )
            shown.add(name)
        # The whole margin band and every interval in view, whichever is wider.
        band = pd.Series([-margin * 100, margin * 100] if margin else [], dtype=float)
        ends = pd.concat([mine["x"] - mine["minus"], mine["x"] + mine["plus"], band]).dropna()
        x_axis: dict[str, object] = {
            "anchor": y_ref,
            "domain": [0.0, 1.0],
            "ticksuffix": "%" if relative else " pp",
            "title": {
                "text": f"change against {against}" if relative else f"gap against {against}, points",
                "font": {"size": 11},
            },
            "zeroline": False,
        }
        if not ends.empty:
            low, high = float(ends.min()), float(ends.max())
            pad = (high - low) * 0.05 or 1.0
            x_axis["range"] = [low - pad, high + pad]
        # The same order in every panel: the largest segment first.
        order = mine.sort_values("requests", ascending=False)["label"] if "requests" in mine else mine["label"]
        layout[f"xaxis{number if number > 1 else ''}"] = x_axis
        layout[f"yaxis{number if number > 1 else ''}"] = {
            "anchor": x_ref,
            "domain": [bottom, top],
            "categoryorder": "array",
            "categoryarray": list(order),
            "autorange": "reversed",
        }
        panel = {"xref": x_ref, "yref": f"{y_ref} domain", "y0": 0, "y1": 1}
        if margin:
            shaded = {"type": "rect", "x0": -margin * 100, "x1": margin * 100, "line": {"width": 0}, "layer": "below"}
            shapes.append({**shaded, "fillcolor": "#888888", "opacity": 0.15, **panel})
        zero = {"type": "line", "x0": 0, "x1": 0, "line": {"color": "#555555", "dash": "dot", "width": 1}}
        shapes.append({**zero, **panel})
        titles.append(
            {"text": formatting.label(metric), "font": {"size": 16}, "showarrow": False, "x": 0.5, "xanchor": "center",
             "xref": "paper", "y": top, "yanchor": "bottom", "yref": "paper"}
        )  # fmt: skip
    layout.update(_frame(title, legend=len(shown) > 1))
    layout.update(
        height=max(HEIGHT, 46 * len(frame) + 100 * len(metrics) + 60),
        margin={"l": 10, "r": 10, "t": 70 if title else 40, "b": 80},
    )
    return go.Figure({"data": traces, "layout": layout})


def _forest_hover(metric: str, name: str, group: pd.DataFrame) -> list[str]:
    """Each point's tooltip: the segment's value against its reference's when known, the gap, the adjusted p."""
    if {"value", "reference_value"} <= set(group):
        value = formatting.metric_value
        group = group[["segment", "reference", "value", "reference_value", "gap", "ci_low", "ci_high", "p_adjusted"]]
        return [
            f"<b>{r.segment}</b> against {r.reference}<br>{formatting.label(metric)}: "
            f"{value(metric, r.value)} against {value(metric, r.reference_value)}"
            f"<br>gap {formatting.gap_interval(metric, r.gap, r.ci_low, r.ci_high)}"
            f"<br>adjusted p {formatting.pvalue(r.p_adjusted)}<br>{name}"
            for r in group.itertuples()
        ]
    group = group[["gap", "ci_low", "ci_high"]]  # pandas builds every column of a row: only the ones read
    return [f"gap {formatting.gap_interval(metric, r.gap, r.ci_low, r.ci_high)}<br>{name}" for r in group.itertuples()]


def heatmap(frame: pd.DataFrame, x: str, y: str, z: str, title: str, percent: bool = False) -> go.Figure:
    """A value for every (x, y) cell, annotated."""
    frame = formatting.name_groups(frame)
    grid = frame.pivot_table(index=y, columns=x, values=z, aggfunc="first")
    fig = px.imshow(
        grid,
        text_auto=".1%" if percent else ".3g",
        color_continuous_scale="RdBu_r",
        aspect="auto",
    )
    return _finish(fig, title, y)


def distribution(frame: pd.DataFrame, color: str | None, title: str) -> go.Figure:
    """Latency distributions (share of requests per log-spaced bin) on a log axis."""
    frame = formatting.name_groups(frame)
    fig = px.line(frame, x="latency_ms", y="share", color=color, log_x=True, labels=_labels(frame))
    fig.update_xaxes(title="latency (ms, log scale)", dtick=1, tickformat=",")  # 100, 1,000, 10,000: no "2 5"
    return _finish(fig, title, "share of requests", percent=True)


def shares(frame: pd.DataFrame, x: str, part: str, value: str, title: str) -> go.Figure:
    """100%-stacked bars: how each ``x`` splits into ``part`` (the task mix of a segment, say)."""
    frame = formatting.name_groups(frame)
    totals = frame.groupby(x)[value].transform("sum")
    fig = px.bar(
        frame.assign(share=frame[value] / totals), x=x, y="share", color=part, barmode="stack", labels=_labels(frame)
    )
    return _finish(fig, title, "share", percent=True)

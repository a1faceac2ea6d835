"""Figures of the dashboard. Each takes a tidy DataFrame and returns a plotly figure."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from metrics import registry
from metrics.gaps import STATUS_LABELS, Status

# Status colours read the same on every page, from the Okabe-Ito palette (safe for colour-blind readers), and each
# status also has its own marker and label (STATUS_LABELS), so no reading depends on colour alone.
STATUS_COLORS: dict[str, str] = {
    Status.CONFIRMED: "#D55E00",  # vermillion
    Status.WARNING: "#E69F00",  # orange
    Status.EXPLAINED_BY_TASK_MIX: "#CC79A7",  # reddish purple
    Status.UNDERPOWERED: "#999999",
    Status.INSUFFICIENT_DATA: "#C8C8C8",
    Status.NONRESPONSE_BIASED: "#56B4E9",  # sky blue
    Status.BELOW_MARGIN: "#F0E442",  # yellow
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


def _finish(fig: go.Figure, title: str, y_title: str | None = None, percent: bool = False) -> go.Figure:
    fig.update_layout(
        title=title,
        height=HEIGHT,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        # Below the plot: a legend above it sat on the title.
        legend={"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0, "title": None},
        template="plotly_white",
    )
    if y_title is not None:
        fig.update_yaxes(title=y_title)
    if percent:  # a rate never reads past 0% or 100%, whatever the markers' padding asks for
        fig.update_yaxes(tickformat=".0%", rangemode="tozero", autorangeoptions={"clipmin": 0, "clipmax": 1})
    return fig


def lines(
    frame: pd.DataFrame, x: str, y: str, color: str | None, title: str, y_title: str, percent: bool = False
) -> go.Figure:
    """One line per value of ``color`` (or one line), markers on each point."""
    fig = px.line(frame, x=x, y=y, color=color, markers=True)
    fig.update_xaxes(title=None)  # time or a named category: the axis speaks for itself
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
) -> go.Figure:
    """Grouped (or stacked) bars."""
    fig = px.bar(frame, x=x, y=y, color=color, barmode="stack" if stacked else "group")
    fig.update_yaxes(rangemode="tozero")  # a bar's length is its value: bars start at zero
    return _finish(fig, title, y_title, percent)


def sparkline(frame: pd.DataFrame, x: str, y: str, percent: bool = False) -> go.Figure:
    """A small trend line without axes, for a headline number."""
    fig = go.Figure(go.Scatter(x=frame[x], y=frame[y], mode="lines", line={"width": 2, "color": "#2f5bea"}))
    fig.update_layout(height=70, margin={"l": 0, "r": 0, "t": 0, "b": 0}, template="plotly_white", showlegend=False)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, tickformat=".0%" if percent else None)
    return fig


def cost_quality(frame: pd.DataFrame, label: str, title: str) -> go.Figure:
    """Cost per resolved request against resolution rate, one bubble per ``label`` sized by volume."""
    fig = px.scatter(
        frame,
        x="cost_per_resolved",
        y="resolution_rate",
        size="requests",
        color=label,
        text=label,
        hover_data={"requests": ":,", "cost_per_request": ":.5f"},
    )
    fig.update_traces(textposition="top center")
    fig.update_xaxes(title="all-in cost per resolved request (USD)", tickprefix="$")
    return _finish(fig, title, registry.get("resolution_rate").label, percent=True)


def forest(gaps: pd.DataFrame, title: str) -> go.Figure:
    """Each comparison's gap with its interval, coloured by status, around the zero line."""
    frame = gaps.assign(
        label=gaps["segment"].astype(str) + " vs " + gaps["reference"].astype(str) + " · " + gaps["metric"],
        minus=gaps["gap"] - gaps["ci_low"],
        plus=gaps["ci_high"] - gaps["gap"],
    )
    fig = go.Figure()
    for status, group in frame.groupby("status", sort=False):
        fig.add_trace(
            go.Scatter(
                x=group["gap"],
                y=group["label"],
                mode="markers",
                name=STATUS_LABELS.get(str(status), str(status)),
                marker={
                    "color": STATUS_COLORS.get(str(status), "#333333"),
                    "symbol": STATUS_MARKERS.get(str(status), "circle"),
                    "size": 10,
                },
                error_x={"type": "data", "symmetric": False, "array": group["plus"], "arrayminus": group["minus"]},
                customdata=group[["requests", "p_adjusted"]],
                hovertemplate="%{y}<br>gap %{x:.3f}<br>requests %{customdata[0]:,}<br>"
                "adjusted p %{customdata[1]:.3g}<extra></extra>",
            )
        )
    fig.add_vline(x=0, line={"color": "#555555", "dash": "dot"})
    fig = _finish(fig, title, None)
    fig.update_layout(height=max(HEIGHT, 26 * len(frame) + 120))
    fig.update_xaxes(title="gap (segment - reference)")
    return fig


def heatmap(frame: pd.DataFrame, x: str, y: str, z: str, title: str, percent: bool = False) -> go.Figure:
    """A value for every (x, y) cell, annotated."""
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
    fig = px.line(frame, x="latency_ms", y="share", color=color, log_x=True)
    fig.update_xaxes(title="latency (ms, log scale)")
    return _finish(fig, title, "share of requests", percent=True)


def shares(frame: pd.DataFrame, x: str, part: str, value: str, title: str) -> go.Figure:
    """100%-stacked bars: how each ``x`` splits into ``part`` (the task mix of a segment, say)."""
    totals = frame.groupby(x)[value].transform("sum")
    fig = px.bar(frame.assign(share=frame[value] / totals), x=x, y="share", color=part, barmode="stack")
    return _finish(fig, title, "share", percent=True)

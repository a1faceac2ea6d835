"""The alert email: a subject that says what happened, plain text and HTML (inline styles and tables, which Gmail
and Outlook keep), a chart rendered to PNG by kaleido, and a link to each alert on the dashboard.

Segment names and notes are data: they are escaped in the HTML and never reach a header unescaped (a name with a
line break cannot add a header).
"""

from __future__ import annotations

import atexit
import html
import logging
import math
import os
import shutil
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from statistics import NormalDist
from typing import Any
from urllib.parse import urlencode

from alerts.lifecycle import resolution_reason
from alerts.verdicts import (
    QUALITY,
    STATUS_LABELS,
    STATUS_WORDS,
    Z95,
    SegmentReach,
    gap_words,
    metric_facts,
)
from metrics.gaps import Status, adjusted_interval

LOG = logging.getLogger("routewatch.alerts")
CHART_CID = "alert-chart"
NO_CHART = "The chart could not be drawn here ({reason}); the table has every number."
KIND_WORDS = {"new": "New", "worse": "Worse", "resolved": "Resolved", "open": "Open"}
# Inline styles: mail clients drop <style> blocks.
CELL = "padding:6px 10px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top;"
HEAD = CELL + "background:#f3f4f6;font-weight:600;"
BODY = "font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#111827;max-width:760px;"


@dataclass(frozen=True)
class AlertItem:
    """One alert in an email: what happened to it (new, worse, resolved, or open in a digest), its incident row
    (``alerts.state.incidents``), and who it touches (None when the store could not say)."""

    kind: str
    incident: Mapping[str, Any]
    reach: SegmentReach | None = None


@dataclass(frozen=True)
class Underpowered:
    """A watched contrast the last verdict could not decide, and about how many requests would decide it."""

    dimension: str
    segment: str
    metric: str
    requests: int
    requests_needed: int | None


@dataclass(frozen=True)
class Digest:
    """The weekly digest's extra sections: the ISO week, what closed in it, what is still underpowered."""

    week_start: date
    resolved: Sequence[AlertItem] = ()
    underpowered: Sequence[Underpowered] = field(default_factory=tuple)


def header_safe(text: str) -> str:
    """``text`` with every control character (CR, LF, tab, ...) shown escaped, so it cannot end a header line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def segment_label(incident: Mapping[str, Any]) -> str:
    """``dimension=segment``, as a person types it in a filter."""
    return f"{incident['dimension']}={incident['segment']}"


def format_gap(metric: str, gap: float | None) -> str:
    """A gap in its unit: rate points for rates (and CSAT's probability of superiority), percent for ratios."""
    if gap is None or (isinstance(gap, float) and math.isnan(gap)):
        return "n/a"
    if metric_facts(metric).relative:
        return f"{gap * 100:+.1f}%"
    return f"{gap * 100:+.1f} points"


def _value(incident: Mapping[str, Any], column: str) -> Any:
    value = incident.get(column)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def interval_text(metric: str, gap: float | None, se: float | None, z: float = Z95) -> str:
    """The task-mix-adjusted gap's own interval in words ("95% CI -4.6 points to +0.1 points")."""
    interval = adjusted_interval(gap, se, z)
    if interval is None:
        return "no interval"
    level = round((2 * NormalDist().cdf(z) - 1) * 100)
    return f"{level}% CI {format_gap(metric, interval[0])} to {format_gap(metric, interval[1])}"


def _interval(incident: Mapping[str, Any]) -> str:
    """The interval of the incident's newest adjusted gap."""
    return interval_text(str(incident["metric"]), _gap(incident), _value(incident, "adjusted_se"))


def _gap(incident: Mapping[str, Any]) -> float | None:
    gap = _value(incident, "adjusted_gap")
    return _value(incident, "gap") if gap is None else gap


def status_words(status: str) -> str:
    """A verdict's status as the dashboard names it ("Real gap", "Task mix", "Needs traffic"), without its icon."""
    label = STATUS_LABELS.get(status, status)
    return label.split(" ", 1)[1] if " " in label and not label[0].isalnum() else label


def window_words(window: date) -> str:
    """Which traffic a verdict judged: the ISO week that a Sunday closes (its weekly audit), else one day."""
    if window.isoweekday() == 7:
        return f"the weekly audit of {window - timedelta(days=6)} to {window}"
    return f"the one day {window}"


def _share(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1%}"


def _opening(incident: Mapping[str, Any]) -> tuple[str, float | None, float | None, int, int]:
    """The verdict that opened the incident: status, adjusted gap, its standard error, users and requests (the
    newest verdict's for an incident stored before these were kept)."""
    if _value(incident, "opened_status") is None:
        return (str(incident["status"]), _gap(incident), _value(incident, "adjusted_se"), int(incident["users"]),
                int(incident["requests"]))  # fmt: skip
    return (str(incident["opened_status"]), _value(incident, "opened_gap"), _value(incident, "opened_se"),
            int(incident.get("opened_users") or 0), int(incident.get("opened_requests") or 0))  # fmt: skip


def is_second_class(incident: Mapping[str, Any]) -> bool:
    """Whether an alert makes its segment second-class as ``routewatch second-class`` says: a quality metric
    (resolution or thumbs-up rate) confirmed worse by the newest weekly audit."""
    return (
        str(incident["metric"]) in QUALITY
        and _value(incident, "audit_status") == Status.CONFIRMED
        and (_gap(incident) or 0.0) < 0
    )


def headline(item: AlertItem) -> str:
    """One plain sentence a PM can forward: who, on what, by how much, against whom, and what the verdict is."""
    incident = item.incident
    metric = str(incident["metric"])
    facts = metric_facts(metric)
    if item.kind == "worse":
        status, gap, window = str(incident["status"]), _gap(incident), incident["last_window"]
    else:
        status, gap, _, _, _ = _opening(incident)
        window = incident["opened_window"]
    how = "n/a" if gap is None else gap_words(metric, gap)
    who = f"{segment_label(incident)}: {facts.label} {how} than {incident['reference']} at the same task mix"
    if item.kind == "resolved":
        opened = f"{segment_label(incident)}: {facts.label} was {how} than {incident['reference']} at the same task mix"
        return f"{opened} when it opened; no longer a gap: {_resolution(incident)}."
    verdict = status_words(status).lower()
    level = "" if status == Status.WARNING else f", {incident['severity']}"
    text = f"{who}: {verdict} in {window_words(window)}{level}."
    if item.kind == "worse":
        text = f"{who}: worse than when it was last told, {verdict} in {window_words(window)}{level}."
    return text


def _resolution(incident: Mapping[str, Any]) -> str:
    """Why an incident closed, with the interval that the equivalence test reads (90%: two one-sided 5% tests)."""
    status = str(incident["status"])
    reason = resolution_reason(status)
    window = incident.get("resolved_window") or incident["last_window"]
    if status != Status.EQUIVALENT:
        return f"{reason}, up to {window}"
    metric = str(incident["metric"])
    tost = interval_text(metric, _gap(incident), _value(incident, "adjusted_se"), z=NormalDist().inv_cdf(0.95))
    return (
        f"{reason} in {window_words(window)}: the adjusted gap's {tost} lies within the margin of "
        f"±{format_gap(metric, metric_facts(metric).margin).lstrip('+')}"
    )


def evidence(item: AlertItem) -> list[str]:
    """The numbers behind the headline, each line naming the traffic it covers."""
    incident = item.incident
    metric = str(incident["metric"])
    facts = metric_facts(metric)
    lines = []
    current = (str(incident["status"]), _gap(incident), _value(incident, "adjusted_se"), int(incident["users"]),
               int(incident["requests"]))  # fmt: skip
    opened = _opening(incident)
    first = current if item.kind in ("worse", "resolved") else opened
    window = incident["last_window"] if item.kind in ("worse", "resolved") else incident["opened_window"]
    status, gap, se, users, requests = first
    lines.append(
        f"Gap: {facts.label} {format_gap(metric, gap)} against {incident['reference']}, adjusted to the same task mix "
        f"({interval_text(metric, gap, se)}; {users:,} users, {requests:,} requests in {window_words(window)})"
    )
    if item.kind in ("new", "open") and incident["last_window"] != incident["opened_window"]:
        status, gap, se, users, requests = current
        lines.append(
            f"Newest verdict, {window_words(incident['last_window'])}: {status_words(status)}, "
            f"{format_gap(metric, gap)} ({interval_text(metric, gap, se)}; {users:,} users); "
            f"{STATUS_WORDS.get(status, '')}".rstrip("; ")
        )
    if item.kind == "worse" and _value(incident, "opened_status") is not None:
        lines.append(
            f"Open since {incident['opened_window']} ({status_words(opened[0])}, {format_gap(metric, opened[1])} then)"
        )
    reach = item.reach
    if reach is not None:
        since = incident["last_window"] - timedelta(days=6)
        text = (f"Who: {reach.users:,} users and ${reach.cost_usd:,.2f} of model spend from {since} to "
                f"{incident['last_window']}")  # fmt: skip
        if not math.isnan(reach.escalation_rate - reach.reference_escalation_rate):
            points = (reach.escalation_rate - reach.reference_escalation_rate) * 100
            text += (
                f"; the router escalates them {_share(reach.escalation_rate)} of the time against "
                f"{_share(reach.reference_escalation_rate)} ({points:+.1f} points) and answers "
                f"{_share(reach.cheap_share)} on the cheap route against {_share(reach.reference_cheap_share)}"
            )
        lines.append(text)
    return lines


def next_step(item: AlertItem) -> str:
    """What to do about an alert, in one sentence."""
    incident = item.incident
    who = segment_label(incident)
    if item.kind == "resolved":
        return "Nothing to do: the alert is closed; its history stays on the dashboard."
    if str(incident["status"]) == Status.WARNING and _value(incident, "audit_status") is None:
        return ("Watch it: the next weekly audit confirms or closes it; acknowledge it on the dashboard to say "
                "someone is on it.")  # fmt: skip
    if metric_facts(str(incident["metric"])).relative:
        return (f"Check which routes and models serve {who} and what they cost or how slow they are, then "
                "acknowledge the alert on the dashboard with what you decided.")  # fmt: skip
    return (f"Check how the router treats {who} (its score threshold, how often it keeps them on the cheap route "
            "and escalates them), then acknowledge the alert on the dashboard with what you decided.")  # fmt: skip


def sentence(item: AlertItem) -> str:
    """The headline and its evidence on one line (webhooks; the email sets them on lines of their own)."""
    return " ".join([headline(item), *(line.rstrip(".") + "." for line in evidence(item))])


def dashboard_link(base: str, incident: Mapping[str, Any], days: int = 14) -> str:
    """The dashboard's alerts page on this alert, its segment filtered and its last window in view."""
    last = incident["last_window"]
    query = {
        "incident": str(incident["id"]),
        "since": (last - timedelta(days=days - 1)).isoformat(),
        "until": last.isoformat(),
        "dimension": str(incident["dimension"]),
        "value": str(incident["segment"]),
    }
    return f"{base.rstrip('/')}/alerts?{urlencode(query)}"


def subject(items: Sequence[AlertItem], digest: Digest | None = None) -> str:
    """What the email holds, in one header-safe line: its segments counted by kind, second-class as
    ``routewatch second-class`` says ("2 second-class segments: language=hi, channel=api; 1 early warning: ...")."""
    raised = [i for i in items if i.kind in ("new", "worse")]
    second = list(dict.fromkeys(segment_label(i.incident) for i in raised if is_second_class(i.incident)))
    rest = [i for i in raised if segment_label(i.incident) not in second]
    warned = {segment_label(i.incident) for i in rest if i.incident.get("severity") == "warning"}
    other = list(dict.fromkeys(segment_label(i.incident) for i in rest if i.incident.get("severity") != "warning"))
    warned_only = [s for s in dict.fromkeys(segment_label(i.incident) for i in rest) if s in warned and s not in other]
    closed = list(dict.fromkeys(segment_label(i.incident) for i in items if i.kind == "resolved"))
    parts = []
    for names, one, many in (
        (second, "second-class segment", "second-class segments"),
        (warned_only, "early warning", "early warnings"),
        (other, "other alert", "other alerts"),
        (closed, "resolved", "resolved"),
    ):
        if names:
            parts.append(f"{len(names)} {one if len(names) == 1 else many}: {', '.join(names)}")
    if digest is not None:
        still = len([i for i in items if i.kind == "open"])
        parts.insert(0, f"Weekly digest, week of {digest.week_start}: {still} open")
    return header_safe("routewatch: " + ("; ".join(parts) or "nothing new"))


def alert_chart(items: Sequence[AlertItem]) -> tuple[bytes | None, str]:
    """A PNG of each alert's task-adjusted gap with its interval against the margin (plotly through kaleido and
    the installed Chromium), or None and the reason it could not be drawn."""
    rows = [i for i in items if i.kind != "resolved"]
    if not rows:
        return None, "nothing open to draw"
    browser = os.environ.get("BROWSER_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        return None, "no Chromium installed"
    figure = gap_figure(rows)
    os.environ.setdefault("BROWSER_PATH", browser)  # kaleido drives this Chromium, never a download
    try:
        _start_renderer()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # plotly notes that a running server ignores its options
            return figure.to_image(format="png"), ""
    except Exception as exc:  # kaleido raises its own and the browser's errors; the email goes out without it
        LOG.warning("chart not drawn: %s", type(exc).__name__)
        return None, f"the chart renderer failed: {type(exc).__name__}"


def gap_figure(rows: Sequence[AlertItem]) -> Any:
    """The email's chart as a plotly figure: each alert's task-mix-adjusted gap in points (or %) with its 95%
    interval, a grey tick at its margin on the harmful side, one row per alert named in words."""
    import plotly.graph_objects as go

    labels = [f"{segment_label(i.incident)} · {metric_facts(str(i.incident['metric'])).label}" for i in rows]
    gaps = [_points(_gap(i.incident)) for i in rows]
    intervals = [adjusted_interval(_gap(i.incident), _value(i.incident, "adjusted_se")) for i in rows]
    lows = [None if c is None else _points(c[0]) for c in intervals]
    highs = [None if c is None else _points(c[1]) for c in intervals]
    figure = go.Figure(
        go.Scatter(
            x=gaps,
            y=labels,
            mode="markers",
            marker={"size": 11, "color": "#b91c1c"},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [h - g if h is not None and g is not None else 0 for g, h in zip(gaps, highs, strict=True)],
                "arrayminus": [
                    g - lo if lo is not None and g is not None else 0 for g, lo in zip(gaps, lows, strict=True)
                ],
            },
        )
    )
    # Each row's margin on its harmful side (a metric's own: 2 points for escalation, 3 for resolution, ...).
    margins = [_harm_margin(i.incident) for i in rows]
    figure.add_trace(
        go.Scatter(
            x=margins, y=labels, mode="markers", marker={"symbol": "line-ns-open", "size": 22, "color": "#6b7280"}
        )
    )
    figure.add_vline(x=0, line_color="#111827")
    figure.update_layout(
        # Two short lines: one long line ran past the image's width.
        title={
            "text": "Gap against the reference at the same task mix, with its 95% interval"
            "<br><sup>points (% for latency and cost); grey tick: the margin</sup>",
            "font": {"size": 14},
        },
        width=720,
        height=160 + 40 * len(rows),
        margin={"l": 220, "r": 30, "t": 60, "b": 40},
        plot_bgcolor="white",
        showlegend=False,
    )
    return figure


def _start_renderer() -> None:
    """Keep one Chromium for every chart of this process (a cold start costs seconds); closed at exit."""
    import kaleido

    global _RENDERER_STARTED
    if not _RENDERER_STARTED:
        kaleido.start_sync_server(silence_warnings=True)
        atexit.register(kaleido.stop_sync_server, silence_warnings=True)
        _RENDERER_STARTED = True


_RENDERER_STARTED = False


def _harm_margin(incident: Mapping[str, Any]) -> float:
    """The margin in points (or percent), on the side where the gap hurts the segment."""
    metric = str(incident["metric"])
    facts = metric_facts(metric)
    side = {"higher": -1.0, "lower": 1.0}.get(
        facts.better, math.copysign(1.0, float(incident.get("adjusted_gap") or 0))
    )
    return side * facts.margin * 100


def _points(value: float | None) -> float | None:
    return None if value is None else float(value) * 100


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f'<th style="{HEAD}">{html.escape(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f'<td style="{CELL}">{cell}</td>' for cell in row) + "</tr>" for row in rows)
    return (
        '<table role="presentation" cellpadding="0" cellspacing="0" '
        f'style="border-collapse:collapse;width:100%;margin:8px 0 16px 0;"><tr>{head}</tr>{body}</table>'
    )


def _alert_rows(items: Sequence[AlertItem], dashboard_url: str) -> list[list[str]]:
    rows = []
    for item in items:
        incident = item.incident
        metric = str(incident["metric"])
        reach = item.reach
        link = html.escape(dashboard_link(dashboard_url, incident), quote=True)
        rows.append(
            [
                html.escape(KIND_WORDS.get(item.kind, item.kind) + ": " + status_words(str(incident["status"]))),
                html.escape(segment_label(incident)),
                html.escape(metric_facts(metric).label),
                html.escape(f"{format_gap(metric, _gap(incident))} ({_interval(incident)})"),
                html.escape(str(incident["reference"])),
                f"{int(incident['users']):,}",
                f"${reach.cost_usd:,.2f}" if reach else "n/a",
                html.escape(
                    f"{_share(reach.escalation_rate)} vs {_share(reach.reference_escalation_rate)}; "
                    f"cheap {_share(reach.cheap_share)} vs {_share(reach.reference_cheap_share)}"
                )
                if reach
                else "n/a",
                f'<a href="{link}" style="color:#1d4ed8;">open</a>',
            ]
        )
    return rows


ALERT_HEADERS = ("", "Segment", "Metric", "Newest gap (adjusted)", "Reference", "Users", "Spend (7 days)",
                 "Escalation; cheap share (7 days)", "")  # fmt: skip


def _text_block(items: Sequence[AlertItem], dashboard_url: str) -> list[str]:
    lines = []
    for item in items:
        lines.append(f"* {KIND_WORDS.get(item.kind, item.kind)}: {headline(item)}")
        lines.extend(f"  {line}" for line in evidence(item))
        lines.append(f"  Next step: {next_step(item)}")
        lines.append(f"  Dashboard (the 14 days to {item.incident['last_window']}): "
                     f"{dashboard_link(dashboard_url, item.incident)}")  # fmt: skip
    return lines


def _html_item(item: AlertItem) -> str:
    """One alert in the HTML part: its headline in bold, the evidence and the next step below."""
    lines = [*evidence(item), f"Next step: {next_step(item)}"]
    return (
        f'<p style="margin:0 0 10px 0;"><b>{html.escape(KIND_WORDS.get(item.kind, item.kind))}: '
        f"{html.escape(headline(item))}</b><br>" + "<br>".join(html.escape(line) for line in lines) + "</p>"
    )


def compose(
    items: Sequence[AlertItem],
    *,
    sender: str,
    recipient: str,
    dashboard_url: str,
    digest: Digest | None = None,
    chart: bool = True,
) -> EmailMessage:
    """The email for ``items``: multipart/alternative (text, then HTML with the chart inline as multipart/related).

    ``sender`` and ``recipient`` must be plain addresses (``alerts.rules.check_address``); every other value is
    escaped. Without Chromium the email says so and keeps the table.
    """
    png, reason = alert_chart(list(items)) if chart else (None, "charts turned off")
    title = subject(items, digest)
    text = [title, ""]
    parts = [f'<div style="{BODY}"><h2 style="font-size:18px;margin:0 0 12px 0;">{html.escape(title)}</h2>']
    current = [i for i in items if i.kind != "open"] if digest is not None else list(items)
    if current:
        text += ["What changed:", *_text_block(current, dashboard_url), ""]
        parts.append("".join(_html_item(i) for i in current))
        parts.append(_table(ALERT_HEADERS, _alert_rows(current, dashboard_url)))
    if digest is not None:
        still = [i for i in items if i.kind == "open"]
        text += ["Open alerts:", *(_text_block(still, dashboard_url) or ["  none"]), ""]
        parts.append('<h3 style="font-size:16px;">Open alerts</h3>')
        parts.append(_table(ALERT_HEADERS, _alert_rows(still, dashboard_url)) if still else "<p>None.</p>")
        text += ["Closed this week:", *(_text_block(digest.resolved, dashboard_url) or ["  none"]), ""]
        parts.append('<h3 style="font-size:16px;">Closed this week</h3>')
        parts.append(
            _table(ALERT_HEADERS, _alert_rows(digest.resolved, dashboard_url)) if digest.resolved else "<p>None.</p>"
        )
        under = [
            [
                html.escape(f"{u.dimension}={u.segment}"),
                html.escape(metric_facts(u.metric).label),
                f"{u.requests:,}",
                f"about {u.requests_needed:,}" if u.requests_needed else "unknown",
            ]
            for u in digest.underpowered
        ]
        text += ["Still underpowered (too little traffic to decide):"]
        text += [f"  {u.dimension}={u.segment} {u.metric}: {u.requests:,} requests, about "
                 f"{u.requests_needed or 0:,} would decide it" for u in digest.underpowered] or ["  none"]  # fmt: skip
        parts.append('<h3 style="font-size:16px;">Still underpowered</h3>')
        parts.append(_table(("Segment", "Metric", "Requests", "Requests that would decide it"), under)
                     if under else "<p>None.</p>")  # fmt: skip
    if png is not None:
        parts.append(f'<p><img src="cid:{CHART_CID}" alt="gap chart" width="720" style="max-width:100%;"></p>')
    elif any(i.kind != "resolved" for i in items):
        note = NO_CHART.format(reason=reason)
        text.append(note)
        parts.append(f'<p style="color:#6b7280;">{html.escape(note)}</p>')
    text.append(f"Dashboard: {dashboard_url}")
    home = f'<a href="{html.escape(dashboard_url, quote=True)}">{html.escape(dashboard_url)}</a>'
    parts.append(f'<p style="color:#6b7280;font-size:12px;">Sent by routewatch. Dashboard: {home}</p></div>')
    message = EmailMessage()
    message["Subject"] = title
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = formatdate(usegmt=True)
    message.set_content("\n".join(text))
    message.add_alternative("<!doctype html><html><body>" + "".join(parts) + "</body></html>", subtype="html")
    if png is not None:
        html_part = list(message.iter_parts())[1]
        html_part.add_related(png, maintype="image", subtype="png", cid=f"<{CHART_CID}>", filename="gaps.png")
    return message


def requests_to_decide(requests: int, ci_low: float | None, ci_high: float | None, metric: str) -> int | None:
    """About how many requests would make a contrast's interval narrow enough to detect a gap of the margin with
    80% power at the 5% level (standard errors shrink as one over the square root of the traffic)."""
    if ci_low is None or ci_high is None or requests <= 0 or ci_high <= ci_low:
        return None
    normal = NormalDist()
    se = (ci_high - ci_low) / (2 * normal.inv_cdf(0.975))
    wanted = metric_facts(metric).margin / (normal.inv_cdf(0.975) + normal.inv_cdf(0.8))
    return math.ceil(requests * (se / wanted) ** 2)

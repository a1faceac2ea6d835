"""The quality of a shadow router's disagreements: what would following the candidate do to the answers?

A shadow router runs beside the live one and only records its choice (``shadow_route``). Where it would have chosen
a *cheaper* route, the answer users got came from the dearer live route; the requests where both routers agree on
that cheaper route show what the cheaper route gives. So, per segment and per direction (cheaper, dearer), the
gap statistics of metrics.gaps compare the quality of the actual answers (resolution, thumbs-up, CSAT):

* the *disagreements* (the reference) against the *agreements on the routes the shadow chose* for them;
* the alert test is the gap standardized to the disagreements' mix of (shadow route, task type), so that it reads
  as "had the shadow been followed, these requests would be resolved about gap points more (or less) often";
* intervals and tests are those of the gap table (cluster-aware by user, Miettinen-Nurminen score intervals,
  Brunner-Munzel for CSAT, Benjamini-Hochberg across every comparison here, the margins and the smallest detectable
  gap). A user's requests can fall on both sides; the variance treats the sides as independent, which overstates it
  when a user's outcomes agree across sides (the intervals are then conservative).

Whether the traffic is enough: a comparison ``insufficient_data`` or ``underpowered`` is not, and the smallest gap
it could detect shrinks as 1/sqrt(days), so about days x ((mde / margin)^2 - 1) more days would decide it.

The agreements stand in for what the cheaper (or dearer) route would have given the disagreements, within each
(route, task type): a shadow router that disagrees on the harder requests of a task type flatters the cheaper route.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from metrics.dimensions import COLUMNS_FIRST, expression, fill, render
from metrics.gaps import BINARY, GapSettings, Status, gap_table_from_cells
from metrics.route_costs import traffic_days
from metrics.window import window
from routewatch.sqlfiles import query
from routewatch.store import Store

DIRECTIONS = ("cheaper", "dearer")
QUALITY = ("resolution_rate", "thumbs_up_rate", "csat")
OVERALL = "(all)"
COLUMNS = [
    "segment", "direction", "metric", "disagreed", "agreed", "disagreed_value", "agreed_value", "gap", "ci_low",
    "ci_high", "adjusted_gap", "adjusted_se", "p_adjusted", "mde", "status", "enough", "more_days", "users", "note",
]  # fmt: skip
_UNDECIDED = (Status.INSUFFICIENT_DATA.value, Status.UNDERPOWERED.value, Status.MODEL_FAILED.value)
_WAITING = (Status.INSUFFICIENT_DATA.value, Status.UNDERPOWERED.value)  # more traffic would decide these


@dataclass(frozen=True)
class ShadowQuality:
    """``table``: one row per (segment, direction, metric), ``COLUMNS``: the disagreements' and the agreements'
    quality (rates, or mean CSAT), the gap agreements - disagreements (rate points; for CSAT P(agreement rates
    higher) - 0.5) with its interval, the gap standardized to the disagreements' mix (``adjusted_gap``, the alert
    test), the status of the gap table, whether the traffic is ``enough`` to decide and, if not, about how many
    ``more_days``; the segment ``(all)`` pools every segment. ``days``: UTC days with a shadow route in the window."""

    dimension: str
    days: int
    table: pd.DataFrame


def _cells(frame: pd.DataFrame, direction: str) -> pd.DataFrame:
    """The gap table's cells of one direction: the disagreements, and the agreements on the routes they target,
    with the (target route, task type) as the stratum of the standardization."""
    disagree = frame[frame["side"] == direction]
    agree = frame[(frame["side"] == "agree") & frame["target"].isin(set(disagree["target"]))]
    cells = pd.concat([disagree.assign(segment="disagree"), agree.assign(segment="agree")], ignore_index=True)
    cells["task_type"] = cells["target"] + " / " + cells["task_type"]
    return cells.drop(columns=["side", "target"])


def shadow_quality(
    store: Store,
    dimension: str = "language",
    settings: GapSettings | None = None,
    *,
    route_order: tuple[str, ...] = ("cheap", "mid", "frontier"),
    since: datetime | None = None,
    until: datetime | None = None,
    where: dict[str, str] | None = None,
) -> ShadowQuality:
    """The quality of the shadow router's cheaper and dearer disagreements against its agreements, per segment of an
    allow-listed ``dimension`` and over all, with the gap table's statistics (``settings``; the reference of every
    comparison is the disagreements). Routes outside ``route_order`` are left out.

    Raises ``metrics.dimensions.DimensionError`` for a dimension off the allow-list and
    ``metrics.registry.WindowError`` for a window that ends before it starts.
    """
    settings = settings or GapSettings()
    since, until = window(since, until)
    rendered = render([], where or {})
    params: dict[str, Any] = {"since": since, "until": until, "order": list(route_order), **rendered.params}
    segment = expression(dimension, "segment_key", params)
    sql = fill(query("shadow_quality_cells"), rendered, segment=segment)
    frame = store.query_df(sql, params, settings=COLUMNS_FIRST)
    days = traffic_days(store, since, until, where, shadow_only=True)
    if frame.empty:
        return ShadowQuality(dimension, days, pd.DataFrame(columns=COLUMNS))
    keys = ["side", "target", "task_type", "user_id"]
    pooled = frame.drop(columns="segment").groupby(keys, as_index=False).sum().assign(segment=OVERALL)
    cells: dict[str, pd.DataFrame] = {}
    for name, part in [(OVERALL, pooled), *frame.groupby("segment", sort=True)]:
        for direction in DIRECTIONS:
            chosen = _cells(part.drop(columns="segment"), direction)
            if (chosen["segment"] == "disagree").any():
                cells[f"{direction}\t{name}"] = chosen
    if not cells:
        return ShadowQuality(dimension, days, pd.DataFrame(columns=COLUMNS))
    judged = replace(settings, reference={key: "disagree" for key in cells})
    gaps = gap_table_from_cells(cells, judged, list(QUALITY))
    return ShadowQuality(dimension, days, _table(gaps, cells, days, settings))


def _table(gaps: pd.DataFrame, cells: dict[str, pd.DataFrame], days: int, settings: GapSettings) -> pd.DataFrame:
    """The gap table's rows in the words of the shadow comparison, with whether the traffic is enough."""
    parts = gaps["dimension"].str.split("\t", n=1)
    direction, segment = parts.str[0], parts.str[1]
    disagreed = {key: int(c.loc[c["segment"] == "disagree", "requests"].sum()) for key, c in cells.items()}
    margin = gaps["metric"].map(settings.delta).astype(float)
    # Underpowered: the interval narrows as 1/sqrt(n), so the MDE reaches the margin after (mde/margin)^2 the days.
    more = days * ((gaps["mde"].astype(float) / margin) ** 2 - 1)
    too_small = gaps["status"] == Status.INSUFFICIENT_DATA.value
    more[too_small] = [
        _days_to_the_gates(cells[key], metric, days, settings)
        for key, metric in zip(gaps.loc[too_small, "dimension"], gaps.loc[too_small, "metric"], strict=True)
    ]
    undecided = gaps["status"].isin(_UNDECIDED)
    table = pd.DataFrame(
        {
            "segment": segment,
            "direction": direction,
            "metric": gaps["metric"],
            "disagreed": gaps["dimension"].map(disagreed),
            "agreed": gaps["requests"],
            "disagreed_value": gaps["reference_value"],
            "agreed_value": gaps["value"],
            "gap": gaps["gap"],
            "ci_low": gaps["ci_low"],
            "ci_high": gaps["ci_high"],
            "adjusted_gap": gaps["adjusted_gap"],
            "adjusted_se": gaps["adjusted_se"],
            "p_adjusted": gaps["p_adjusted"],
            "mde": gaps["mde"],
            "status": gaps["status"],
            "enough": ~undecided,
            "more_days": np.ceil(more.clip(lower=1)).where(gaps["status"].isin(_WAITING)),
            "users": gaps["users"],
            "note": gaps["note"],
        }
    )
    pooled_first = table.assign(_segment=table["segment"] != OVERALL)
    return pooled_first.sort_values(["direction", "_segment", "segment", "metric"], ignore_index=True)[COLUMNS]


def _days_to_the_gates(cells: pd.DataFrame, metric: str, days: int, settings: GapSettings) -> float:
    """About how many more days of the same traffic bring both sides past the volume gates (trials and users); the
    users are taken to grow with the days as the requests do, so it is a lower bound when users come back."""
    trials = BINARY[metric][1] if metric in BINARY else "rated"
    factor = 1.0
    for _, side in cells.groupby("segment"):
        count, users = float(side[trials].sum()), float(side.loc[side[trials] > 0, "user_id"].nunique())
        factor = max(factor, settings.min_requests / max(count, 1.0), settings.min_users / max(users, 1.0))
    return days * (factor - 1) if factor > 1 else np.nan


def findings(quality: ShadowQuality) -> list[str]:
    """One sentence per confirmed loss, a segment whose answers would be worse had the shadow been followed: "es:
    the shadow router would send 2,345 requests to a cheaper route; requests both routers send there are resolved
    12.3 points less often than the answers these got, at the same route and task mix"."""
    table = quality.table
    lost = table[(table["status"] == Status.CONFIRMED.value) & (table["adjusted_gap"] < 0)]
    sentences = []
    for row in lost.itertuples():
        if row.metric == "csat":
            amount = f"are rated lower (probability of rating higher {0.5 + row.adjusted_gap:.2f})"
        else:
            verb = "resolved" if row.metric == "resolution_rate" else "thumbed up"
            amount = f"are {verb} {abs(row.adjusted_gap) * 100:.1f} points less often"
        sentences.append(
            f"{row.segment}: the shadow router would send {row.disagreed:,} requests to a {row.direction} route; "
            f"requests both routers send there {amount} than the answers these got, at the same route and task mix"
        )
    return sentences


def enough_words(quality: ShadowQuality) -> str:
    """How many days the comparison rests on and whether that is enough, in one sentence."""
    table = quality.table
    if table.empty:
        return f"{quality.days} days of shadow traffic, and no disagreement to judge."
    decided = int(table["enough"].sum())
    sentence = f"The comparison rests on {quality.days} days of shadow traffic: {decided} of {len(table)} comparisons "
    if decided == len(table):
        return sentence + "have enough traffic to decide."
    small = table["status"] == Status.INSUFFICIENT_DATA.value
    underpowered = table["status"] == Status.UNDERPOWERED.value
    parts = []
    for name, chosen in (("too small to test at all", small), ("underpowered", underpowered)):
        if chosen.any():
            more = table.loc[chosen, "more_days"].dropna()
            wait = f", about {int(more.max()):,} more days would decide them" if len(more) else ""
            parts.append(f"{int(chosen.sum())} {name}{wait}")
    return sentence + f"have enough traffic to decide ({'; '.join(parts) or 'the others failed to fit'})."

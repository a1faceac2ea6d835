"""Where the money goes, from the daily rollup: what escalations double-pay (the spend of an escalated request
above a request sent straight to its final route) and how much of the spend the costliest 1% of requests take."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

import numpy as np
import pandas as pd

from metrics.dimensions import COLUMNS_FIRST, fill, render
from routewatch.sqlfiles import query
from routewatch.store import Store


def escalation_double_pay(
    store: Store,
    *,
    since: datetime,
    until: datetime,
    by: list[str] | None = None,
    where: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Per cut and final route: escalated requests, their mean spend, the mean spend of direct requests to the
    same route, and ``double_paid_usd`` = escalated x (escalated mean - direct mean), from the daily rollup.

    ``by`` and ``where`` take rollup dimensions; the window is whole UTC days.
    """
    by = [d for d in (by or []) if d not in ("final_route", "escalated")]
    rendered = render([*by, "final_route", "escalated"], where or {}, rollup=True)
    params = {"since_day": since.date(), "until_day": until.date(), **rendered.params}
    frame = store.query_df(fill(query("cost_by_final_route"), rendered), params, settings=COLUMNS_FIRST)
    frame["spend"] = frame["spend"].astype(float)
    keys = [*by, "final_route"]
    escalated_flag = frame["escalated"].astype(str).str.lower().isin(("true", "1"))
    esc = frame[escalated_flag].groupby(keys)[["requests", "priced", "spend"]].sum()
    direct = frame[~escalated_flag].groupby(keys)[["requests", "priced", "spend"]].sum()
    table = esc.join(direct, lsuffix="_escalated", rsuffix="_direct", how="left").reset_index()
    table = table.rename(columns={"requests_escalated": "escalated", "requests_direct": "direct"})
    # spend covers priced requests only: the means divide by them, and the double pay counts them
    table["escalated_cost_per_request"] = table["spend_escalated"] / table["priced_escalated"].where(
        table["priced_escalated"] > 0
    )
    table["direct_cost_per_request"] = table["spend_direct"] / table["priced_direct"].where(table["priced_direct"] > 0)
    extra = table["escalated_cost_per_request"] - table["direct_cost_per_request"]
    table["double_paid_usd"] = (table["priced_escalated"] * extra).clip(lower=0)
    columns = [*keys, "escalated", "escalated_cost_per_request", "direct", "direct_cost_per_request"]
    return table[[*columns, "double_paid_usd"]].sort_values(keys, ignore_index=True)


def top_share(counts: Mapping[int, int], nanousd: Mapping[int, int], share: float = 0.01) -> float:
    """The spend, in USD, of the costliest ``share`` of requests, from a cost histogram (requests and nanodollars
    per bin): whole bins from the top, then the mean request of the bin the cut falls in. A bin spans 2.5% of its
    value, so the result is within 2.5% of the exact one, and usually far closer."""
    bins = sorted((int(k) for k, v in counts.items() if v > 0), reverse=True)
    n = np.array([counts[b] for b in bins], dtype=float)
    spend = np.array([nanousd.get(b, 0) for b in bins], dtype=float) / 1e9
    wanted = math.ceil(share * n.sum())
    cumulative = np.cumsum(n)
    whole = int(np.searchsorted(cumulative, wanted))  # bins before this one are taken whole
    if whole >= len(bins):
        return float(spend.sum())
    taken = cumulative[whole - 1] if whole else 0.0
    return float(spend[:whole].sum() + (wanted - taken) * spend[whole] / n[whole])


def spend_concentration(
    store: Store, *, since: datetime, until: datetime, by: list[str] | None = None, where: dict[str, str] | None = None
) -> pd.DataFrame:
    """Per cut: requests, unpriced requests, all-in ``cost_usd`` (of the priced ones), the spend of the costliest
    1% of priced requests and its share, from the rollup's cost histograms (``top_share``); the
    ``spend_concentration`` metric gives the exact figures."""
    by = by or []
    rendered = render(by, where or {}, rollup=True)
    params = {"since_day": since.date(), "until_day": until.date(), **rendered.params}
    frame = store.query_df(fill(query("spend_histogram"), rendered), params, settings=COLUMNS_FIRST)
    frame["cost_usd"] = frame["cost_usd"].astype(float)
    frame["unpriced"] = frame["requests"] - frame["priced"]
    frame["top_1pct_cost_usd"] = [top_share(c, u) for c, u in zip(frame["counts"], frame["nanousd"], strict=True)]
    frame["top_1pct_share"] = (frame["top_1pct_cost_usd"] / frame["cost_usd"]).where(frame["cost_usd"] > 0)
    return frame[[*by, "requests", "unpriced", "cost_usd", "top_1pct_cost_usd", "top_1pct_share"]]

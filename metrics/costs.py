"""What escalations double-pay: the spend of an escalated request above a request sent straight to its final route."""

from __future__ import annotations

from datetime import datetime

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
    frame = store.query_df(fill(query("cost_by_final_route").text, rendered), params, settings=COLUMNS_FIRST)
    frame["spend"] = frame["spend"].astype(float)
    keys = [*by, "final_route"]
    escalated_flag = frame["escalated"].astype(str).str.lower().isin(("true", "1"))
    esc = frame[escalated_flag].groupby(keys)[["requests", "spend"]].sum()
    direct = frame[~escalated_flag].groupby(keys)[["requests", "spend"]].sum()
    table = esc.join(direct, lsuffix="_escalated", rsuffix="_direct", how="left").reset_index()
    table = table.rename(columns={"requests_escalated": "escalated", "requests_direct": "direct"})
    table["escalated_cost_per_request"] = table["spend_escalated"] / table["escalated"]
    table["direct_cost_per_request"] = table["spend_direct"] / table["direct"]
    extra = table["escalated_cost_per_request"] - table["direct_cost_per_request"]
    table["double_paid_usd"] = (table["escalated"] * extra).clip(lower=0)
    columns = [*keys, "escalated", "escalated_cost_per_request", "direct", "direct_cost_per_request"]
    return table[[*columns, "double_paid_usd"]].sort_values(keys, ignore_index=True)

"""The cheapest first route per resolved request, within each task type.

Starting a request on the cheap model looks cheaper per call; once escalations, retries, failed calls and human
review are paid, and divided by what was actually resolved, starting on the expensive model can be cheaper for some
task types. For each task type (or any allow-listed dimension) and each first route (``route``):

* the all-in cost per resolved request, C_r / X_r (cost_usd + router_cost_usd + human_cost_usd over every request,
  over its resolved requests), a ratio of means over users whose interval is the delta method's linearization,
  clustered by user (STATISTICS.md R3.1, R5): Var = n / (n - 1) * sum_u (c_u - R x_u)^2 / X^2;
* what moving the whole task type to that route would save a month at the current volume: the same resolved
  requests at that route's cost per resolved, S_r = C - R_r X (C, X the task type's all-in cost and resolved
  requests over every route), times 30 / the days of traffic in the window. Its interval is the delta method's
  too, with the covariance of the route's part and the whole counted (a user's requests fall on several routes):
  z_u = (c_u - R_r x_u) - (X / X_r)(c_ur - R_r x_ur), Var(S_r) = n / (n - 1) * sum_u z_u^2 over the task type's n
  users.

The comparison assumes a task type's requests are alike whichever route the router chose first; a router that
sends the harder requests of a task type to the frontier makes the frontier look dearer than it would be.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from metrics.dimensions import expression, fill, render
from metrics.gaps import GapSettings
from metrics.gaps._statistics import normal_quantile
from metrics.window import window
from routewatch.sqlfiles import query
from routewatch.store import Store

DAYS_PER_MONTH = 30
COLUMNS = [
    "route", "requests", "share", "users", "resolved", "cost_usd", "cost_per_resolved", "ci_low", "ci_high",
    "group_cost_per_resolved", "cheapest", "monthly_saving_usd", "saving_ci_low", "saving_ci_high",
]  # fmt: skip


@dataclass(frozen=True)
class FirstRouteCosts:
    """``table``: one row per (group, first route), the group's column named after the dimension, then
    ``COLUMNS`` (USD; shares of the group's requests; ``cheapest`` marks the lowest cost per resolved of the group,
    ``monthly_saving_usd`` what moving the whole group to the route saves a month, negative when it costs more);
    ``days``: the UTC days of traffic in the window, which the monthly figures scale from."""

    dimension: str
    days: int
    table: pd.DataFrame


def traffic_days(
    store: Store, since: datetime, until: datetime, where: dict[str, str] | None, shadow_only: bool = False
) -> int:
    """The UTC days with traffic in ``[since, until)`` (with ``shadow_only``, with a shadow route)."""
    rendered = render([], where or {})
    params = {"since": since, "until": until, "shadow_only": shadow_only, **rendered.params}
    rows = store.query_df(fill(query("traffic_days"), rendered), params)
    return int(rows["days"].iloc[0]) if not rows.empty else 0


def first_route_costs(
    store: Store,
    dimension: str = "task_type",
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    where: dict[str, str] | None = None,
    settings: GapSettings | None = None,
) -> FirstRouteCosts:
    """All-in cost per resolved request of each first route within each value of an allow-listed ``dimension``,
    with intervals at ``settings.alpha`` and the monthly saving of moving the group to each route.

    Raises ``metrics.dimensions.DimensionError`` for a dimension off the allow-list and
    ``metrics.registry.WindowError`` for a window that ends before it starts.
    """
    settings = settings or GapSettings()
    since, until = window(since, until)
    rendered = render([], where or {})
    params: dict[str, Any] = {"since": since, "until": until, **rendered.params}
    group = expression(dimension, "group_key", params)
    sql = fill(query("first_route_cost"), rendered, group=group)
    sums = store.query_df(sql, params)
    days = traffic_days(store, since, until, where)
    if sums.empty:
        return FirstRouteCosts(dimension, days, pd.DataFrame(columns=[dimension, *COLUMNS]))
    table = pd.concat(
        [_group(part, settings.alpha, days) for _, part in sums.groupby("grp", sort=True)], ignore_index=True
    )
    table = table.rename(columns={"grp": dimension})[[dimension, *COLUMNS]]
    return FirstRouteCosts(dimension, days, table)


def _group(sums: pd.DataFrame, alpha: float, days: int) -> pd.DataFrame:
    """One group's routes: the ratio, the saving and their linearized variances from the sums over users."""
    s = sums.astype({c: float for c in sums.columns if c not in ("grp", "route")}).reset_index(drop=True)
    cost, resolved, users = float(s["cost_usd"].sum()), float(s["resolved"].sum()), float(s["group_users"].sum())
    # Over the group's users: sum_u c_u^2, c_u x_u, x_u^2 (each row holds its route's share of these sums).
    user_cc, user_cx, user_xx = (
        float(s[a].sum()) for a in ("cost_x_user_cost", "resolved_x_user_cost", "resolved_x_user_resolved")
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = s["cost_usd"] / s["resolved"].where(s["resolved"] > 0)
    own = s["sq_cost"] - 2 * ratio * s["cost_x_resolved"] + ratio**2 * s["sq_resolved"]  # sum_u (c_ur - R x_ur)^2
    route_var = _small_sample(s["users"]) * own / s["resolved"] ** 2
    whole = user_cc - 2 * ratio * user_cx + ratio**2 * user_xx  # sum_u (c_u - R x_u)^2
    cross = (
        s["cost_x_user_cost"]
        - ratio * s["resolved_x_user_cost"]
        - ratio * s["cost_x_user_resolved"]
        + ratio**2 * s["resolved_x_user_resolved"]
    )  # sum_u (c_u - R x_u)(c_ur - R x_ur)
    share_of_resolved = resolved / s["resolved"]
    saving_var = _small_sample(users) * (whole - 2 * share_of_resolved * cross + share_of_resolved**2 * own)
    z = normal_quantile(1 - alpha / 2)
    month = DAYS_PER_MONTH / days if days else math.nan
    saving = (cost - ratio * resolved) * month
    saving_se = np.sqrt(saving_var.clip(lower=0)) * month
    route_se = np.sqrt(route_var.clip(lower=0))
    table = pd.DataFrame(
        {
            "grp": s["grp"],
            "route": s["route"],
            "requests": s["requests"].astype("int64"),
            "share": s["requests"] / s["requests"].sum(),
            "users": s["users"].astype("int64"),
            "resolved": s["resolved"].astype("int64"),
            "cost_usd": s["cost_usd"],
            "cost_per_resolved": ratio,
            "ci_low": ratio - z * route_se,
            "ci_high": ratio + z * route_se,
            "group_cost_per_resolved": cost / resolved if resolved else math.nan,
            "cheapest": ratio.eq(ratio.min()) & ratio.notna(),
            "monthly_saving_usd": saving,
            "saving_ci_low": saving - z * saving_se,
            "saving_ci_high": saving + z * saving_se,
        }
    )
    return table.sort_values("cost_per_resolved", ignore_index=True)


def _small_sample(users: Any) -> Any:
    """The clustered variance's n / (n - 1) (NaN for fewer than two users: no variance to estimate)."""
    if isinstance(users, pd.Series):
        return (users / (users - 1)).where(users >= 2)
    return users / (users - 1) if users >= 2 else math.nan


def verdicts(costs: FirstRouteCosts) -> list[str]:
    """One sentence per group whose cheapest first route is not the one that carries most of its traffic and whose
    saving's interval lies above zero: "code: frontier-first costs $0.0240 per resolved request against $0.0398
    now; moving code there would save $1,234.56 a month (95% interval $1,000.00 to $1,400.00)"."""
    sentences = []
    dimension = costs.dimension
    for group, rows in costs.table.groupby(dimension, sort=True):
        best = rows[rows["cheapest"]]
        busiest = rows.loc[rows["requests"].idxmax(), "route"]
        if best.empty or best["route"].iloc[0] == busiest or not best["saving_ci_low"].iloc[0] > 0:
            continue
        row = best.iloc[0]
        sentences.append(
            f"{group}: {row['route']}-first costs ${row['cost_per_resolved']:.4f} per resolved request against "
            f"${row['group_cost_per_resolved']:.4f} now; moving {group} there would save "
            f"${row['monthly_saving_usd']:,.2f} a month (interval ${row['saving_ci_low']:,.2f} to "
            f"${row['saving_ci_high']:,.2f})"
        )
    return sentences

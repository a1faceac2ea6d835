"""The alert lifecycle (STATISTICS.md R7): one open incident per (dimension, segment, metric); new, ongoing,
worse (severity up, or the gap grew by a margin), resolved (the equivalence test holds, or two clean weekly
audits in a row); acknowledged or snoozed by a named person with a note. Only new, worse and resolved notify.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa

from alerts.judge import SMALLEST_THRESHOLD
from alerts.rules import ALERTING_STATUSES, Rules
from alerts.state import evaluated_verdicts, evaluated_windows, incident_events, incidents, now
from alerts.verdicts import (
    Z95,
    is_harm,
    is_weekly_audit,
    metric_facts,
    severity_quantile,
    utc_time,
)
from metrics.gaps import Status, adjusted_interval

Severity = Literal["warning", "high", "critical"]
SEVERITY_RANK: dict[str, int] = {"warning": 1, "high": 2, "critical": 3}
Notice = Literal["new", "worse", "resolved"]
CLEAN_AUDITS_TO_CLOSE = 2


class AlreadyEvaluated(RuntimeError):
    """Another run evaluated these windows first (its transaction holds them)."""


@dataclass(frozen=True)
class Change:
    """A change of an incident that people are told about."""

    kind: Notice
    incident_id: int
    window: date


def severity(metric: str, status: str, gap: float | None, se: float | None, z: float = Z95) -> Severity:
    """``warning`` for an early warning; ``critical`` when a confirmed gap's interval lies wholly beyond the margin
    on the harmful side (R8), else ``high``. The interval is the task-mix-adjusted gap's, ``gap`` plus or minus
    ``z`` standard errors: with ``z`` from ``alerts.verdicts.severity_quantile``, the false-coverage-rate interval
    that ``routewatch gaps`` judges its own ``severity`` by."""
    if status == Status.WARNING:
        return "warning"
    facts = metric_facts(metric)
    interval = adjusted_interval(gap, se, z)
    low, high = interval if interval is not None else (-math.inf, math.inf)
    below, above = high < -facts.margin, low > facts.margin
    beyond = below if facts.better == "higher" else above if facts.better == "lower" else below or above
    return "critical" if beyond else "high"


def is_clean_audit(row: Any) -> bool:
    """Whether a weekly audit counts towards closing an incident (R7.5): its verdict does not alert, and its CUSUM
    statistic S = max(S+, S-) is below h/2, so the early warning is not half-way to an alarm either. A verdict
    stored without its h is held to the smallest h the judge uses (stricter than any h it stored)."""
    h = _number(getattr(row, "cusum_h", None))
    h = SMALLEST_THRESHOLD if h is None else h
    statistic = max(_number(row.cusum_up) or 0.0, _number(row.cusum_down) or 0.0)
    return row.status not in ALERTING_STATUSES and statistic < h / 2


def resolution_reason(status: str) -> str:
    """Why an incident whose last verdict has ``status`` was closed."""
    if status == Status.EQUIVALENT:
        return "the equivalence test holds"
    return f"{CLEAN_AUDITS_TO_CLOSE} clean weekly audits in a row (no alert, CUSUM below h/2)"


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _numbers(row: Any) -> dict[str, Any]:
    """The incident columns a verdict row fills (a weekly audit also its status as the audit's)."""
    audit = {"audit_status": str(row.status), "audit_window": row.window_start} if is_weekly_audit(row.note) else {}
    return {
        **audit,
        "reference": str(row.reference),
        "status": str(row.status),
        "value": _number(row.value),
        "reference_value": _number(row.reference_value),
        "gap": _number(row.gap),
        "ci_low": _number(row.ci_low),
        "ci_high": _number(row.ci_high),
        "adjusted_gap": _number(row.adjusted_gap),
        "adjusted_se": _number(getattr(row, "adjusted_se", None)),
        "p_adjusted": _number(row.p_adjusted),
        "requests": int(row.requests),
        "users": int(row.users),
        "last_window": row.window_start,
    }


def _current(incident: Any, row: Any, **more: Any) -> dict[str, Any]:
    """The incident columns a verdict updates: none when an incident has a newer window already (an older window
    judged again does not turn its numbers back)."""
    return {**_numbers(row), **more} if row.window_start >= incident.last_window else {}


def _event(connection: sa.Connection, incident_id: int, kind: str, **values: Any) -> None:
    connection.execute(incident_events.insert().values(incident_id=incident_id, kind=kind, at=now(), **values))


def windows_to_evaluate(
    connection: sa.Connection, decided: dict[date, datetime | None]
) -> tuple[list[date], dict[date, Any]]:
    """Of the decided windows (each with when its newest verdict was stored): those no run has evaluated yet,
    oldest first, and those judged again since a run evaluated them (``decide --redo-from``), each with the
    time of that evaluation."""
    done = {row.window_start: row.evaluated_at for row in connection.execute(sa.select(evaluated_windows))}
    new = sorted(set(decided) - set(done))
    rejudged: dict[date, Any] = {}
    for window, when in decided.items():
        evaluated_at = done.get(window)
        last = utc_time(evaluated_at)
        if when is not None and last is not None and when > last:
            rejudged[window] = evaluated_at  # as stored: the claim compares it
    return new, rejudged


def last_evaluated(connection: sa.Connection) -> date | None:
    """The newest evaluated window (None before the first run)."""
    return connection.scalar(sa.select(sa.func.max(evaluated_windows.c.window_start)))


@dataclass(frozen=True)
class Evaluation:
    """The windows one run evaluated, oldest first, and the changes to tell; of those windows, the ones judged
    again since an earlier run evaluated them; and whether it was the first run on this state database."""

    windows: list[date]
    changes: list[Change]
    rejudged: list[date] = field(default_factory=list)
    first: bool = False


def fingerprint(row: Any) -> str:
    """What a verdict says, to 9 significant digits (a verdict judged again on the same rows is unchanged)."""
    numbers = (_number(getattr(row, name)) for name in ("gap", "adjusted_gap", "ci_low", "ci_high", "cusum_up",
                                                        "cusum_down"))  # fmt: skip
    return "|".join([str(row.status), *("" if n is None else f"{n:.9g}" for n in numbers)])


def _claim(connection: sa.Connection, new: list[date], rejudged: dict[date, Any]) -> None:
    """Mark the windows evaluated first, so that a second run at once fails (and rolls back) instead of applying
    them twice: a new window by its key, a re-judged one by the time of the evaluation it replaces."""
    try:
        if new:
            connection.execute(evaluated_windows.insert(), [{"window_start": w, "evaluated_at": now()} for w in new])
        for window, evaluated_at in rejudged.items():
            same = (evaluated_windows.c.window_start == window) & (evaluated_windows.c.evaluated_at == evaluated_at)
            claimed = connection.execute(evaluated_windows.update().where(same).values(evaluated_at=now()))
            if claimed.rowcount != 1:
                raise AlreadyEvaluated(str(window))
    except sa.exc.IntegrityError as exc:
        raise AlreadyEvaluated(str(new)) from exc


def _verdict_key(row: Any) -> tuple[date, str, str, str]:
    return (row.window_start, row.dimension, row.segment, row.metric)


def evaluate(connection: sa.Connection, decisions: pd.DataFrame, rules: Rules) -> Evaluation:
    """Apply the verdicts of every window of ``decisions`` not evaluated yet, in order, to the incidents; and of
    every window judged again since it was evaluated (its ``decided_at`` is newer), the verdicts that changed
    (an unchanged verdict is not applied again, so it tells nothing twice).

    Runs inside the caller's transaction: the windows are marked evaluated first, so a second run at once
    fails with AlreadyEvaluated (and rolls back) instead of applying them twice.
    """
    first = last_evaluated(connection) is None
    stored = decisions.get("decided_at", pd.Series(None, index=decisions.index, dtype=object))
    decided = {w: max((t for t in map(utc_time, stored[decisions["window_start"] == w]) if t is not None), default=None)
               for w in decisions["window_start"].unique()}  # fmt: skip
    new, rejudged = windows_to_evaluate(connection, decided)
    if not new and not rejudged:
        return Evaluation([], [])
    _claim(connection, new, rejudged)
    previous = {}
    if rejudged:
        told = sa.select(evaluated_verdicts).where(evaluated_verdicts.c.window_start.in_(list(rejudged)))
        previous = {_verdict_key(r): (r.fingerprint, r.clean_audit) for r in connection.execute(told)}
        connection.execute(evaluated_verdicts.delete().where(evaluated_verdicts.c.window_start.in_(list(rejudged))))
    windows = sorted([*new, *rejudged])
    changes: list[Change] = []
    seen = []
    for window in windows:
        rows = decisions[decisions["window_start"] == window]
        z = severity_quantile(rows)
        for row in rows.itertuples(index=False):
            before = previous.get(_verdict_key(row))
            said = fingerprint(row)
            seen.append({"window_start": window, "dimension": row.dimension, "segment": row.segment,
                         "metric": row.metric, "fingerprint": said,
                         "clean_audit": is_weekly_audit(row.note) and is_clean_audit(row)})  # fmt: skip
            if before is not None and before[0] == said:
                continue
            change = _apply(connection, row, rules, counted=before is not None and before[1], z=z)
            if change is not None:
                changes.append(change)
    if seen:
        connection.execute(evaluated_verdicts.insert(), seen)
    return Evaluation(windows, changes, sorted(rejudged), first)


def _apply(connection: sa.Connection, row: Any, rules: Rules, counted: bool = False, z: float = Z95) -> Change | None:
    """Apply one verdict to its incident; ``counted``: an earlier version of this verdict was a clean audit that
    already counted towards closing it (a window judged again); ``z``: the quantile of its window's severity
    interval (``alerts.verdicts.severity_quantile``)."""
    key = (incidents.c.dimension == row.dimension) & (incidents.c.segment == row.segment)
    open_ = connection.execute(
        sa.select(incidents).where(key & (incidents.c.metric == row.metric) & (incidents.c.state == "open"))
    ).first()
    gap = _number(row.adjusted_gap)
    gap = _number(row.gap) if gap is None else gap
    alerting = (
        gap is not None
        and rules.watches(row.dimension, row.metric, row.status, int(row.users))
        and is_harm(row.metric, gap)
    )
    window: date = row.window_start
    if alerting:
        assert gap is not None
        se = _number(getattr(row, "adjusted_se", None))
        level = severity(row.metric, row.status, gap, se, z)
        if open_ is None:
            incident_id = connection.execute(
                incidents.insert().values(
                    dimension=row.dimension,
                    segment=row.segment,
                    metric=row.metric,
                    state="open",
                    severity=level,
                    opened_window=window,
                    notified_gap=gap,
                    notified_severity=level,
                    clean_audits=0,
                    opened_status=str(row.status),
                    opened_gap=gap,
                    opened_se=se,
                    opened_users=int(row.users),
                    opened_requests=int(row.requests),
                    **_numbers(row),
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            _event(connection, incident_id, "new", window_start=window, status=row.status, severity=level,
                   adjusted_gap=gap)  # fmt: skip
            return Change("new", incident_id, window)
        worse = (
            SEVERITY_RANK[level] > SEVERITY_RANK[open_.notified_severity or "warning"]
            or abs(gap) >= abs(open_.notified_gap or 0.0) + metric_facts(row.metric).margin
        )
        values: dict[str, Any] = {"clean_audits": 0, **_current(open_, row, severity=level)}
        snoozed = open_.snoozed_until is not None and window <= open_.snoozed_until
        if worse and not snoozed:
            values.update(notified_gap=gap, notified_severity=level)
        connection.execute(incidents.update().where(incidents.c.id == open_.id).values(**values))
        kind = "worse" if worse else "ongoing"
        _event(connection, open_.id, kind, window_start=window, status=row.status, severity=level, adjusted_gap=gap,
               note="snoozed: not sent" if worse and snoozed else None)  # fmt: skip
        return Change("worse", open_.id, window) if worse and not snoozed else None
    if open_ is None:
        return None
    values = _current(open_, row)
    reason = None
    if row.status == Status.EQUIVALENT:
        reason = resolution_reason(row.status)
    elif is_weekly_audit(row.note):
        values["clean_audits"] = open_.clean_audits + (0 if counted else 1) if is_clean_audit(row) else 0
        if values["clean_audits"] >= CLEAN_AUDITS_TO_CLOSE:
            reason = resolution_reason(row.status)
    if reason is not None:
        values.update(state="resolved", resolved_window=window)
    connection.execute(incidents.update().where(incidents.c.id == open_.id).values(**values))
    if reason is None:
        return None
    _event(connection, open_.id, "resolved", window_start=window, status=row.status, adjusted_gap=gap, note=reason)
    return Change("resolved", open_.id, window)


def acknowledge(
    connection: sa.Connection, incident_id: int, by: str, note: str = "", until: date | None = None
) -> None:
    """Record that ``by`` has seen an incident (with a note); with ``until``, snooze its re-notifications until then.

    Raises ValueError for an unknown incident or an empty name.
    """
    if not by.strip():
        raise ValueError("say who acknowledges the alert")
    values: dict[str, Any] = {"acknowledged_by": by.strip(), "acknowledged_at": now(), "note": note}
    if until is not None:
        values["snoozed_until"] = until
    updated = connection.execute(incidents.update().where(incidents.c.id == incident_id).values(**values))
    if updated.rowcount != 1:
        raise ValueError(f"no alert {incident_id}")
    _event(connection, incident_id, "snoozed" if until else "acknowledged", actor=by.strip(),
           note=f"{note} (until {until})".strip() if until else note)  # fmt: skip


def incident_table(connection: sa.Connection, state: str | None = None) -> pd.DataFrame:
    """Every incident (or those in ``state``: open or resolved), the newest first, one row each."""
    select = sa.select(incidents).order_by(incidents.c.last_window.desc(), incidents.c.id.desc())
    if state is not None:
        select = select.where(incidents.c.state == state)
    return pd.DataFrame(connection.execute(select).mappings().all(), columns=[c.name for c in incidents.columns])


def incident_history(connection: sa.Connection, incident_id: int) -> pd.DataFrame:
    """The events of one incident, oldest first."""
    select = sa.select(incident_events).where(incident_events.c.incident_id == incident_id)
    rows = connection.execute(select.order_by(incident_events.c.id)).mappings().all()
    return pd.DataFrame(rows, columns=[c.name for c in incident_events.columns])


def resolved_since(connection: sa.Connection, since: date) -> pd.DataFrame:
    """Incidents resolved by a window on or after ``since``."""
    frame = incident_table(connection, "resolved")
    return frame[frame["resolved_window"] >= since] if not frame.empty else frame

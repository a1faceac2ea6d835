"""The alert lifecycle (STATISTICS.md R7): one open incident per (dimension, segment, metric); new, ongoing,
worse (severity up, or the gap grew by a margin), resolved (the equivalence test holds, or two clean weekly
audits in a row); acknowledged or snoozed by a named person with a note. Only new, worse and resolved notify.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa

from alerts.rules import ALERTING_STATUSES, Rules
from alerts.state import evaluated_windows, incident_events, incidents, now
from alerts.verdicts import is_harm, is_weekly_audit, metric_facts
from metrics.gaps import Status

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


def severity(metric: str, status: str, ci_low: float | None, ci_high: float | None) -> Severity:
    """``warning`` for an early warning; ``critical`` when a confirmed gap's interval lies wholly beyond the margin
    on the harmful side (R8), else ``high``."""
    if status == Status.WARNING:
        return "warning"
    facts = metric_facts(metric)
    low = -math.inf if ci_low is None else ci_low
    high = math.inf if ci_high is None else ci_high
    below, above = high < -facts.margin, low > facts.margin
    beyond = below if facts.better == "higher" else above if facts.better == "lower" else below or above
    return "critical" if beyond else "high"


def resolution_reason(status: str) -> str:
    """Why an incident whose last verdict has ``status`` was closed."""
    if status == Status.EQUIVALENT:
        return "the equivalence test holds"
    return f"{CLEAN_AUDITS_TO_CLOSE} clean weekly audits in a row"


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _numbers(row: Any) -> dict[str, Any]:
    """The incident columns a verdict row fills."""
    return {
        "reference": str(row.reference),
        "status": str(row.status),
        "value": _number(row.value),
        "reference_value": _number(row.reference_value),
        "gap": _number(row.gap),
        "ci_low": _number(row.ci_low),
        "ci_high": _number(row.ci_high),
        "adjusted_gap": _number(row.adjusted_gap),
        "p_adjusted": _number(row.p_adjusted),
        "requests": int(row.requests),
        "users": int(row.users),
        "last_window": row.window_start,
    }


def _event(connection: sa.Connection, incident_id: int, kind: str, **values: Any) -> None:
    connection.execute(incident_events.insert().values(incident_id=incident_id, kind=kind, at=now(), **values))


def pending_windows(connection: sa.Connection, decided: list[date]) -> list[date]:
    """The decided windows that no run has evaluated yet, oldest first."""
    done = set(connection.scalars(sa.select(evaluated_windows.c.window_start)))
    return sorted(set(decided) - done)


def last_evaluated(connection: sa.Connection) -> date | None:
    """The newest evaluated window (None before the first run)."""
    return connection.scalar(sa.select(sa.func.max(evaluated_windows.c.window_start)))


@dataclass(frozen=True)
class Evaluation:
    """The windows one run evaluated, oldest first, and the changes to tell."""

    windows: list[date]
    changes: list[Change]


def evaluate(connection: sa.Connection, decisions: pd.DataFrame, rules: Rules) -> Evaluation:
    """Apply the verdicts of every window of ``decisions`` not evaluated yet, in order, to the incidents.

    Runs inside the caller's transaction: the windows are marked evaluated first, so a second run at once
    fails with AlreadyEvaluated (and rolls back) instead of applying them twice.
    """
    windows = pending_windows(connection, list(decisions["window_start"].unique()))
    if not windows:
        return Evaluation([], [])
    try:
        connection.execute(evaluated_windows.insert(), [{"window_start": w, "evaluated_at": now()} for w in windows])
    except sa.exc.IntegrityError as exc:
        raise AlreadyEvaluated(str(windows)) from exc
    changes: list[Change] = []
    for window in windows:
        for row in decisions[decisions["window_start"] == window].itertuples(index=False):
            change = _apply(connection, row, rules)
            if change is not None:
                changes.append(change)
    return Evaluation(windows, changes)


def _apply(connection: sa.Connection, row: Any, rules: Rules) -> Change | None:
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
        level = severity(row.metric, row.status, _number(row.ci_low), _number(row.ci_high))
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
        values: dict[str, Any] = {"severity": level, "clean_audits": 0, **_numbers(row)}
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
    values = _numbers(row)
    reason = None
    if row.status == Status.EQUIVALENT:
        reason = resolution_reason(row.status)
    elif is_weekly_audit(row.note) and row.status not in ALERTING_STATUSES:
        values["clean_audits"] = open_.clean_audits + 1
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

"""The alert lifecycle and the outbox on the state database, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.delivery import Retry, deliver, record
from alerts.lifecycle import AlreadyEvaluated, acknowledge, evaluate, incident_history, incident_table, severity
from alerts.rules import Recipient, Rules
from alerts.state import evaluated_windows, open_state, outbox, revision
from metrics.decisions import DECISION_COLUMNS, WEEKLY_AUDIT
from routewatch.settings import Settings
from tests.alert_servers import Mailbox, smtp_server, state_engine
from tests.browser import free_port

MONDAY = date(2026, 10, 26)
RULES = Rules(metrics=("resolution_rate", "escalation_rate"), dimensions=("language",), min_users=30)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with state_engine(request.param, tmp_path) as engine:
        yield engine


def verdict(window: date, gap: float, status: str = "confirmed", segment: str = "hi", **more: Any) -> dict[str, Any]:
    """A stored verdict on hi's resolution rate against en (the columns of gap_decisions)."""
    row = {column: None for column in DECISION_COLUMNS}
    row.update(
        window_start=window, dimension="language", segment=segment, reference="en", metric="resolution_rate",
        value=0.7 + gap, reference_value=0.7, gap=gap, ci_low=gap - 0.01, ci_high=gap + 0.01,
        adjusted_gap=gap, adjusted_se=0.005,
        p_value=0.001, p_adjusted=0.002, requests=5000, users=400, status=status, note="",
    )  # fmt: skip
    row.update(more)
    return row


def evaluated(engine: Engine, *rows: dict[str, Any], rules: Rules = RULES) -> list[tuple[str, date]]:
    with engine.begin() as connection:
        evaluation = evaluate(connection, pd.DataFrame(rows), rules)
    return [(c.kind, c.window) for c in evaluation.changes]


def test_schema_is_at_the_newest_revision(engine: Engine) -> None:
    assert revision(engine) == "0003"
    open_state(engine.url.render_as_string(hide_password=False)).dispose()  # a second upgrade is a no-op
    assert revision(engine) == "0003"


def test_new_then_ongoing_then_worse_then_resolved(engine: Engine) -> None:
    days = [MONDAY + timedelta(days=i) for i in range(5)]
    assert evaluated(engine, verdict(days[0], -0.05)) == [("new", days[0])]
    assert evaluated(engine, verdict(days[1], -0.06)) == []  # grew by less than the 3-point margin: ongoing
    assert evaluated(engine, verdict(days[2], -0.09)) == [("worse", days[2])]  # -0.05 -> -0.09: a margin more
    assert evaluated(engine, verdict(days[3], -0.10)) == []  # compared with the gap last told (-0.09)
    assert evaluated(engine, verdict(days[4], -0.004, status="equivalent")) == [("resolved", days[4])]
    with engine.connect() as connection:
        frame = incident_table(connection)
        history = incident_history(connection, int(frame["id"].iloc[0]))
    assert len(frame) == 1 and frame["state"].iloc[0] == "resolved"
    assert list(history["kind"]) == ["new", "ongoing", "worse", "ongoing", "resolved"]
    # A new gap after the resolution opens a second incident.
    assert evaluated(engine, verdict(days[4] + timedelta(days=1), -0.05)) == [("new", days[4] + timedelta(days=1))]


def test_one_open_incident_per_segment_and_metric(engine: Engine) -> None:
    evaluated(engine, verdict(MONDAY, -0.05))
    with engine.begin() as connection, pytest.raises(sa.exc.IntegrityError):
        connection.execute(
            sa.text(
                "INSERT INTO incidents (dimension, segment, metric, reference, state, severity, opened_window, "
                "last_window, status, requests, users, clean_audits) VALUES ('language', 'hi', 'resolution_rate', "
                "'en', 'open', 'high', :d, :d, 'confirmed', 0, 0, 0)"
            ),
            {"d": MONDAY},
        )


def test_severity_up_is_worse_and_warnings_alert_only_when_asked(engine: Engine) -> None:
    warned = verdict(MONDAY, -0.035, status="warning")
    assert evaluated(engine, warned) == []  # the default rules alert on confirmed gaps only
    rules = Rules(**{**RULES.__dict__, "statuses": ("confirmed", "warning")})
    assert evaluated(engine, verdict(MONDAY + timedelta(days=1), -0.035, status="warning"), rules=rules) == [
        ("new", MONDAY + timedelta(days=1))
    ]
    tuesday = MONDAY + timedelta(days=2)
    assert evaluated(engine, verdict(tuesday, -0.035), rules=rules) == [("worse", tuesday)]  # warning -> high


def test_only_harm_alerts_and_small_segments_are_ignored(engine: Engine) -> None:
    assert evaluated(engine, verdict(MONDAY, +0.08)) == []  # resolves more often than en: not second-class
    assert evaluated(engine, verdict(MONDAY + timedelta(days=1), -0.08, users=10)) == []  # under min_users


def test_two_clean_weekly_audits_close_an_incident(engine: Engine) -> None:
    sunday = MONDAY + timedelta(days=6)
    evaluated(engine, verdict(MONDAY, -0.05))
    assert evaluated(engine, verdict(sunday, -0.01, status="no_evidence", note=WEEKLY_AUDIT)) == []
    assert evaluated(engine, verdict(sunday + timedelta(days=3), -0.01, status="no_evidence")) == []  # not an audit
    later = sunday + timedelta(days=7)
    assert evaluated(engine, verdict(later, -0.01, status="underpowered", note=WEEKLY_AUDIT)) == [("resolved", later)]


def test_an_audit_whose_cusum_is_half_way_to_an_alarm_is_not_clean(engine: Engine) -> None:
    """R7.5: two consecutive clean weekly audits with S < h/2. An audit with S >= h/2 does not count and breaks
    the run; one stored without its h is held to the smallest h (4), so S = 2.5 is not clean either."""
    sundays = [MONDAY + timedelta(days=6 + 7 * i) for i in range(5)]
    evaluated(engine, verdict(MONDAY, -0.05))

    def audit(sunday: date, s: float, h: float | None = 6.0) -> list[tuple[str, date]]:
        return evaluated(engine, verdict(sunday, -0.01, status="no_evidence", note=WEEKLY_AUDIT, cusum_up=0.0,
                                         cusum_down=s, cusum_h=h))  # fmt: skip

    assert audit(sundays[0], 2.9) == []  # clean: 2.9 < 6/2
    assert audit(sundays[1], 3.0) == []  # S = h/2: not clean, and the run of clean audits starts again
    with engine.connect() as connection:
        assert incident_table(connection)["clean_audits"].iloc[0] == 0
    assert audit(sundays[2], 1.0) == []
    assert audit(sundays[3], 2.5, h=None) == []  # no stored h: 2.5 >= 4/2
    assert audit(sundays[4], 1.0) == []
    assert audit(sundays[4] + timedelta(days=7), 0.5) == [("resolved", sundays[4] + timedelta(days=7))]
    with engine.connect() as connection:
        history = incident_history(connection, int(incident_table(connection)["id"].iloc[0]))
    assert history["note"].iloc[-1] == "2 clean weekly audits in a row (no alert, CUSUM below h/2)"


def test_a_window_judged_again_is_evaluated_again_on_what_changed(engine: Engine) -> None:
    """``decide --redo-from``: a window's verdicts stored again (a newer decided_at) are evaluated again; an
    unchanged verdict tells nothing twice, a changed one makes its transition."""
    day, later = MONDAY, MONDAY + timedelta(days=1)

    def judged(window: date, gap: float, **more: Any) -> dict[str, Any]:
        return verdict(window, gap, decided_at=pd.Timestamp.now(tz="UTC"), **more)

    assert evaluated(engine, judged(day, -0.05), judged(day, -0.01, status="no_evidence", segment="es")) == [
        ("new", day)
    ]
    assert evaluated(engine, judged(day, -0.05), judged(day, -0.01, status="no_evidence", segment="es")) == []
    assert evaluated(engine, judged(day, -0.09), judged(day, -0.06, segment="es")) == [("worse", day), ("new", day)]
    assert evaluated(engine, judged(later, -0.08)) == []  # ongoing: hi's incident now shows the later window
    assert evaluated(engine, judged(day, -0.004, status="equivalent"), judged(day, -0.06, segment="es")) == [
        ("resolved", day)
    ]
    with engine.connect() as connection:
        frame = incident_table(connection).set_index("segment")
        windows = connection.execute(sa.select(evaluated_windows.c.window_start)).scalars().all()
    assert frame.loc["hi", "state"] == "resolved" and frame.loc["es", "state"] == "open"
    assert frame.loc["es", "adjusted_gap"] == pytest.approx(-0.06)
    assert sorted(windows) == [day, later]  # each window once, its evaluation time moved on
    # The same rows without a newer decided_at: nothing to evaluate.
    assert evaluated(engine, verdict(day, -0.20)) == []


def test_a_snoozed_incident_does_not_renotify_until_its_date(engine: Engine) -> None:
    evaluated(engine, verdict(MONDAY, -0.05))
    with engine.begin() as connection:
        incident = int(incident_table(connection)["id"].iloc[0])
        acknowledge(connection, incident, "Priya (PM, Hindi)", "known: new model rollout", MONDAY + timedelta(days=3))
    assert evaluated(engine, verdict(MONDAY + timedelta(days=2), -0.10)) == []  # worse, but snoozed
    assert evaluated(engine, verdict(MONDAY + timedelta(days=4), -0.10)) == [("worse", MONDAY + timedelta(days=4))]
    with engine.connect() as connection:
        history = incident_history(connection, incident)
        row = incident_table(connection).iloc[0]
    assert row["acknowledged_by"] == "Priya (PM, Hindi)" and row["note"] == "known: new model rollout"
    assert list(history["kind"]) == ["new", "snoozed", "worse", "worse"]
    assert history["note"].iloc[2] == "snoozed: not sent"
    with engine.begin() as connection, pytest.raises(ValueError, match="who"):
        acknowledge(connection, incident, "  ")


def test_severity_is_critical_when_the_adjusted_interval_lies_beyond_the_margin() -> None:
    """The interval is the adjusted gap's own (gap plus or minus z standard errors), never the raw gap's."""
    assert severity("resolution_rate", "confirmed", -0.065, 0.01) == "critical"  # 95%: -8.5 to -4.5 points
    assert severity("resolution_rate", "confirmed", -0.065, 0.01, z=3.5) == "high"  # a wider (FCR) interval
    assert severity("resolution_rate", "confirmed", -0.045, 0.01) == "high"  # -6.5 to -2.5: crosses -3
    assert severity("escalation_rate", "confirmed", 0.04, 0.005) == "critical"  # either side for escalation
    assert severity("resolution_rate", "warning", -0.09, 0.01) == "warning"
    assert severity("resolution_rate", "confirmed", -0.09, None) == "high"  # no interval: never critical


def test_a_window_is_evaluated_once_even_by_two_runs_at_once(engine: Engine) -> None:
    rows = pd.DataFrame([verdict(MONDAY, -0.05)])
    first = engine.connect()
    transaction = first.begin()
    evaluate(first, rows, RULES)  # holds the window, uncommitted
    outcome: list[str] = []

    def second() -> None:
        try:
            with engine.begin() as connection:
                outcome.append(f"{len(evaluate(connection, rows, RULES).changes)} changes")
        except AlreadyEvaluated:
            outcome.append("already evaluated")

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(timeout=1.0)
    assert thread.is_alive()  # waits on the first run's lock
    transaction.commit()
    first.close()
    thread.join(timeout=60)
    assert outcome in (["already evaluated"], ["0 changes"])
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(evaluated_windows)) == 1
        assert len(incident_table(connection)) == 1


def test_two_delivery_runs_at_once_send_each_message_once(engine: Engine) -> None:
    port = free_port()
    settings = Settings(smtp_host="127.0.0.1", smtp_port=port, mail_from="routewatch@example.com")
    rules = Rules(recipients=(Recipient(address="pm@example.com"),))
    with engine.begin() as connection:
        for i in range(3):
            body = f"Subject: test {i}\r\nFrom: routewatch@example.com\r\nTo: pm@example.com\r\n\r\nbody {i}\r\n"
            record(connection, key=f"k{i}", channel="email", target="pm@example.com", subject=f"t{i}", body=body)
        assert not record(connection, key="k0", channel="email", target="pm@example.com", subject="t", body="x")
    with smtp_server(port, mailbox=Mailbox(delay_s=0.3)) as box:
        reports = []
        threads = [
            threading.Thread(target=lambda: reports.append(deliver(engine, settings, rules, Retry(1, 0))))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert sorted(m[2].split(b"\r\n")[0] for m in box.messages) == [b"Subject: test 0", b"Subject: test 1",
                                                                     b"Subject: test 2"]  # fmt: skip
    assert sorted(k for r in reports for k in r.sent) == ["k0", "k1", "k2"]
    assert all(not r.failed for r in reports)
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).where(outbox.c.sent_at.is_(None))) == 0


def test_the_demo_opens_the_alerts_of_its_planted_gaps(demo_store: Any, tmp_path: Path) -> None:
    """`routewatch demo` evaluates its decided days against the default rules, so its Alerts page is not empty:
    the planted second-class language has an open alert, and nothing waits in the outbox (nobody to tell)."""
    from cli.demo import open_alerts

    settings = Settings(store=demo_store.dsn, state_db=f"sqlite:///{tmp_path / 'alerts.sqlite'}")
    opened = open_alerts(demo_store, settings)
    engine = open_state(settings.state_db)
    with engine.connect() as connection:
        table = incident_table(connection)
        waiting = connection.scalar(sa.select(sa.func.count()).select_from(outbox))
    engine.dispose()
    assert opened == len(table) and ("language", "hi") in set(zip(table["dimension"], table["segment"], strict=True))
    assert waiting == 0
    assert open_alerts(demo_store, settings) == 0  # a second demo run on the same days opens nothing again

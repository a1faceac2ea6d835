"""The alert job end to end: a store with a planted second-class segment (hi), a real SMTP server and a real HTTP
server for webhooks; the state in a SQLite file (the lifecycle's PostgreSQL tests are in test_alerts_lifecycle)."""

from __future__ import annotations

import email
import json
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from alerts import job
from alerts.delivery import Retry, deliver, record, send_email
from alerts.judge import decide
from alerts.message import AlertItem, compose, format_gap
from alerts.rules import Recipient, Rules, Webhook
from alerts.state import evaluated_windows, incidents, open_state, outbox
from ingest.load import ingest
from ingest.synthetic import generate, write_jsonl
from routewatch.settings import Settings
from routewatch.store import Store
from tests.alert_servers import LOGIN_WITHOUT_TLS, Hooks, Mailbox, self_signed, smtp_server, webhook_server
from tests.browser import browser, chromium_path, free_port
from tests.conftest import run_cli

SUNDAY = date(2026, 11, 1)  # closes the ISO week of the traffic: its verdict is the weekly audit
NOW = datetime(2026, 11, 2, tzinfo=UTC)
PM, LEAD = "pm@example.com", "lead@example.com"
SECRET_PATH = "/services/T0/B0/s3cr3t-webhook-token"


class World:
    """The store, the state database, the servers and what they received, shared by this module's tests."""

    def __init__(self, folder: Path, smtp_port: int, hook_base: str, hooks: Hooks) -> None:
        self.folder = folder
        self.store = Store(f"chdb://{folder / 'store'}", lock_timeout_s=60)
        self.state_db = f"sqlite:///{folder / 'alerts.sqlite'}"
        self.engine = open_state(self.state_db)
        self.hooks = hooks
        self.settings = Settings(
            store=self.store.dsn, state_db=self.state_db, smtp_host="127.0.0.1", smtp_port=smtp_port,
            mail_from="routewatch@example.com", dashboard_url="https://routewatch.example.com",
        )  # fmt: skip
        self.rules = Rules(
            metrics=("resolution_rate", "escalation_rate"),
            dimensions=("language", "channel"),
            recipients=(Recipient(address=PM, dimensions=("language",)), Recipient(address=LEAD, schedule="weekly")),
            webhooks=(
                Webhook(name="slack", format="slack", url=hook_base + "/slack"),
                Webhook(name="generic", format="json", url=hook_base + "/generic"),
            ),
        )

    def run(self, now: datetime = NOW) -> job.JobReport:
        return job.run(self.store, self.settings, self.rules, now=now, retry=Retry(2, 0.01), engine=self.engine)

    def plant(self, window: date, status: str, adjusted_gap: float, segment: str = "hi") -> None:
        """A stored verdict on a later window: the Sunday's verdict on hi's resolution rate, changed."""
        row = self.store.query_df(
            "SELECT * FROM gap_decisions FINAL WHERE window_start = {d:Date} AND segment = 'hi' "
            "AND metric = 'resolution_rate' AND dimension = 'language'",
            {"d": SUNDAY},
        )
        row = row.assign(
            window_start=window, status=status, adjusted_gap=adjusted_gap, segment=segment,
            ci_low=adjusted_gap - 0.02, ci_high=adjusted_gap + 0.02, decided_at=pd.Timestamp.now(tz="UTC"),
        )  # fmt: skip
        self.store.insert_df("gap_decisions", row)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("alerts")
    with webhook_server() as (base, hooks):
        world = World(folder, free_port(), base, hooks)
        traffic = generate(100_000, seed=5, end=NOW, days=7)
        ingest(world.store, [str(write_jsonl(traffic, folder / "traffic.jsonl"))])
        yield world


@pytest.fixture(scope="module")
def first_run(world: World) -> tuple[job.JobReport, Mailbox]:
    with smtp_server(world.settings.smtp_port) as box:
        report = world.run()
    return report, box


def parsed(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


def to(box: Mailbox, address: str) -> list[EmailMessage]:
    return [parsed(raw) for _, rcpt, raw in box.messages if rcpt == [address]]


def text_of(message: EmailMessage, kind: str = "plain") -> str:
    part = message.get_body((kind,))
    assert part is not None, f"no text/{kind} part"
    return str(part.get_content())


def test_one_email_with_both_parts_and_the_numbers_of_routewatch_gaps(world: World, first_run: Any) -> None:
    report, box = first_run
    assert report.judged[-1] == SUNDAY and not report.delivery.failed
    (mail,) = to(box, PM)
    assert mail["Subject"] == "routewatch: 1 second-class segment: language=hi"
    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.walk()][1:] == ["text/plain", "multipart/related", "text/html",
                                                               "image/png"]  # fmt: skip
    gaps = run_cli(
        "gaps", "--by", "language,channel", "--since", "2026-10-26", "--until", "2026-11-02", "--format", "json",
        env_extra={"ROUTEWATCH_STORE": world.store.dsn},
    )  # fmt: skip
    assert gaps.returncode == 0, gaps.stderr
    table = pd.DataFrame(json.loads(gaps.stdout)).set_index(["dimension", "segment", "metric"])
    text, page = text_of(mail), text_of(mail, "html")
    for metric in ("resolution_rate", "escalation_rate"):
        row = table.loc[("language", "hi", metric)]
        assert row["status"] == "confirmed"
        # The task-mix-adjusted gap with its own 95% interval, from the same table's gap and standard error.
        gap, se = row["adjusted_gap"], row["adjusted_se"]
        for number in (gap, gap - 1.959964 * se, gap + 1.959964 * se):
            assert format_gap(metric, number) in text and format_gap(metric, number) in page
        assert f"{int(row['users']):,} users" in text
    with world.engine.connect() as connection:
        stored = pd.DataFrame(connection.execute(sa.select(incidents)).mappings().all())
    hi = stored.set_index(["dimension", "segment", "metric"]).loc[("language", "hi", "resolution_rate")]
    expected = table.loc[("language", "hi", "resolution_rate")]
    assert hi["adjusted_gap"] == pytest.approx(expected["adjusted_gap"], abs=1e-12)
    assert (hi["ci_low"], hi["ci_high"]) == pytest.approx((expected["ci_low"], expected["ci_high"]), abs=1e-12)
    assert "https://routewatch.example.com/alerts?incident=" in text
    assert "the router escalates them" in text and "on the cheap route" in text


def test_the_weekly_digest_and_the_webhooks(world: World, first_run: Any) -> None:
    _, box = first_run
    (digest,) = to(box, LEAD)
    with world.engine.connect() as connection:
        still = connection.scalar(sa.select(sa.func.count()).where(incidents.c.state == "open"))
    assert still >= 2  # hi on resolution and on escalation at least
    assert digest["Subject"].startswith(f"routewatch: Weekly digest, week of 2026-10-26: {still} open")
    text = text_of(digest)
    assert "Open alerts:" in text and "Closed this week:" in text and "Still underpowered" in text
    paths = [path for path, _ in world.hooks.received]
    assert sorted(paths) == ["/generic", "/slack"]
    slack = next(body for path, body in world.hooks.received if path == "/slack")
    assert set(slack) == {"text"} and "language=hi" in slack["text"]
    generic = next(body for path, body in world.hooks.received if path == "/generic")
    with world.engine.connect() as connection:
        opened = {(r.segment, r.metric, "new") for r in connection.execute(sa.select(incidents))}
    assert {(a["segment"], a["metric"], a["event"]) for a in generic["alerts"]} == opened
    assert {("hi", "resolution_rate", "new"), ("hi", "escalation_rate", "new")} <= opened


def test_a_rerun_sends_nothing(world: World, first_run: Any) -> None:
    with smtp_server(world.settings.smtp_port) as box:
        report = world.run()
    assert box.messages == [] and report.recorded == 0 and report.delivery.sent == []
    assert len(world.hooks.received) == 2


def test_a_day_judged_again_unchanged_sends_nothing(world: World, first_run: Any) -> None:
    redo = decide(world.store, list(world.rules.dimensions), now=NOW, redo_from=SUNDAY)
    assert redo.windows == [SUNDAY]
    with smtp_server(world.settings.smtp_port) as box:
        report = world.run()
    assert report.evaluated == [SUNDAY] and report.changes == 0 and report.recorded == 0 and box.messages == []
    assert report.summary()[0] == (
        "1 day(s) judged again since they were evaluated (2026-11-01 to 2026-11-01): only their changed verdicts "
        "were evaluated again"
    )


def test_a_first_run_over_a_long_history_starts_at_the_newest_window(
    world: World, first_run: Any, tmp_path: Path
) -> None:
    """A new state database over days of decided verdicts: one daily email, about the newest day, not one per
    day; the older days are recorded as seen and the run says so."""
    daily, weekly = "daily@example.com", "weekly@example.com"
    config = tmp_path / "routewatch.toml"
    config.write_text(
        '[alerts]\nmetrics = ["resolution_rate", "escalation_rate"]\ndimensions = ["language", "channel"]\n'
        'statuses = ["confirmed", "warning"]\n'
        f'[[alerts.recipients]]\naddress = "{daily}"\nschedule = "daily"\n'
        f'[[alerts.recipients]]\naddress = "{weekly}"\nschedule = "weekly"\n'
    )
    state_db = f"sqlite:///{tmp_path / 'first.sqlite'}"
    env = {
        "ROUTEWATCH_STORE": world.store.dsn, "ROUTEWATCH_STATE_DB": state_db, "ROUTEWATCH_CONFIG": str(config),
        "ROUTEWATCH_SMTP_HOST": "127.0.0.1", "ROUTEWATCH_SMTP_PORT": str(world.settings.smtp_port),
        "ROUTEWATCH_MAIL_FROM": "routewatch@example.com",
    }  # fmt: skip
    with smtp_server(world.settings.smtp_port) as box:
        result = run_cli("alerts", "run", env_extra=env, timeout=300)
    assert result.returncode == 0, result.stderr
    decided = sorted(world.store.query_df("SELECT DISTINCT window_start FROM gap_decisions")["window_start"])
    days = [pd.Timestamp(d).date() for d in decided]
    engine = open_state(state_db)
    with engine.connect() as connection:
        seen = sorted(connection.scalars(sa.select(evaluated_windows.c.window_start)))
        opened = set(connection.scalars(sa.select(incidents.c.opened_window)))
        keys = list(connection.scalars(sa.select(outbox.c.key).where(outbox.c.target == daily)))
    engine.dispose()
    assert seen == days and len(days) >= 7
    assert len(opened) > 1  # news on several days: each would have had its own daily email
    assert keys == [f"daily:{daily}:{days[-1]}"] and len(to(box, daily)) == 1
    assert len(to(box, weekly)) == 1  # the newest Sunday's digest
    assert (
        f"first run: {len(days) - 1} older decided day(s) ({days[0]} to {days[-2]}) were evaluated and recorded "
        f"as seen without a message each; the messages tell what is open as of {days[-1]}"
    ) in result.stderr


def test_a_worse_gap_renotifies_and_a_closed_gap_sends_a_resolution(world: World, first_run: Any) -> None:
    world.plant(date(2026, 11, 2), "confirmed", -0.20)
    with smtp_server(world.settings.smtp_port) as box:
        world.run(datetime(2026, 11, 3, tzinfo=UTC))
    (worse,) = to(box, PM)
    assert worse["Subject"] == "routewatch: 1 second-class segment: language=hi"
    assert "Worse: language=hi: resolution rate 20.0 points lower than en at the same task mix" in text_of(worse)
    world.plant(date(2026, 11, 3), "equivalent", -0.005)
    with smtp_server(world.settings.smtp_port) as box:
        world.run(datetime(2026, 11, 4, tzinfo=UTC))
    (resolved,) = to(box, PM)
    assert resolved["Subject"] == "routewatch: 1 resolved: language=hi"
    opened = "points lower than en at the same task mix when it opened; no longer a gap: the equivalence test holds"
    assert "resolution rate was " in text_of(resolved) and opened in text_of(resolved)


def test_a_segment_name_cannot_inject_a_header(world: World, first_run: Any) -> None:
    world.plant(date(2026, 11, 4), "confirmed", -0.08, segment="hi\r\nBcc: x@evil.example")
    with smtp_server(world.settings.smtp_port) as box:
        world.run(datetime(2026, 11, 5, tzinfo=UTC))
    assert [rcpt for _, rcpt, _ in box.messages] == [[PM]]
    (mail,) = to(box, PM)
    assert mail["Bcc"] is None and "x@evil.example" not in str(mail["To"])
    assert mail["Subject"].strip() == "routewatch: 1 second-class segment: language=hi\\r\\nBcc: x@evil.example"
    assert "Bcc" not in [name for name, _ in mail.items() if name != "Subject"]
    assert "Bcc: x@evil.example" in text_of(mail) and "Bcc: x@evil.example" in text_of(mail, "html")


def test_a_dead_smtp_server_gives_retries_a_non_zero_exit_and_delivery_next_run(
    world: World, first_run: Any, tmp_path: Path
) -> None:
    world.plant(date(2026, 11, 5), "confirmed", -0.07, segment="ta")
    config = tmp_path / "routewatch.toml"
    config.write_text(
        '[alerts]\nmetrics = ["resolution_rate", "escalation_rate"]\ndimensions = ["language", "channel"]\n'
        f'[[alerts.recipients]]\naddress = "{PM}"\n'
    )
    env = {
        "ROUTEWATCH_STORE": world.store.dsn, "ROUTEWATCH_STATE_DB": world.state_db, "ROUTEWATCH_CONFIG": str(config),
        "ROUTEWATCH_SMTP_HOST": "127.0.0.1", "ROUTEWATCH_SMTP_PORT": str(world.settings.smtp_port),
        "ROUTEWATCH_MAIL_FROM": "routewatch@example.com",
    }  # fmt: skip
    dead = run_cli("alerts", "run", env_extra=env, timeout=300)
    assert dead.returncode == 1, dead.stderr
    assert "attempt 1 of 3" in dead.stderr and "attempt 3 of 3" in dead.stderr
    assert "connection refused (is the SMTP server running on that port?)" in dead.stderr
    assert "stay in the outbox" in dead.stderr
    with smtp_server(world.settings.smtp_port) as box:
        alive = run_cli("alerts", "run", env_extra=env, timeout=300)
    assert alive.returncode == 0, alive.stderr
    (mail,) = to(box, PM)
    assert "language=ta" in mail["Subject"]
    with world.engine.connect() as connection:
        row = connection.execute(sa.select(outbox).where(outbox.c.target == PM).order_by(outbox.c.id.desc())).first()
    assert row is not None and row.attempts == 4 and row.sent_at is not None and row.last_error is None


@pytest.mark.filterwarnings(LOGIN_WITHOUT_TLS)
def test_no_secret_in_the_logs_or_the_errors(world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    port, password = free_port(), "pw-0f-the-smtp-login"
    engine = open_state(f"sqlite:///{tmp_path / 'secrets.sqlite'}")
    with webhook_server() as (base, hooks):
        hooks.status = 500
        rules = Rules(webhooks=(Webhook(name="slack", format="slack", url=base + SECRET_PATH),))
        settings = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_user="routewatch", smtp_password="wrong-"
                            + password, mail_from="routewatch@example.com")  # fmt: skip
        with engine.begin() as connection:
            body = "Subject: hi\r\nFrom: routewatch@example.com\r\nTo: pm@example.com\r\n\r\nhello\r\n"
            record(connection, key="mail", channel="email", target=PM, subject="hi", body=body)
            record(connection, key="hook", channel="webhook", target="slack", subject="hi", body='{"text": "hi"}')
        caplog.set_level(logging.DEBUG)
        with smtp_server(port, login=("routewatch", password)) as box:
            report = deliver(engine, settings, rules, Retry(2, 0.01))
            assert sorted(report.failed) == ["hook", "mail"] and box.messages == []
            good = Settings(**{**settings.__dict__, "smtp_password": password})
            hooks.status = 200
            assert sorted(deliver(engine, good, rules, Retry(1, 0)).sent) == ["hook", "mail"]
        assert len(box.messages) == 1 and hooks.received[-1][0] == SECRET_PATH
    with engine.connect() as connection:
        errors = " ".join(str(e) for e in connection.scalars(sa.select(outbox.c.last_error)))
    logged = caplog.text
    assert f"SMTP 127.0.0.1:{port}" in logged and "webhook slack: HTTP 500" in logged
    for secret in (password, "s3cr3t-webhook-token", SECRET_PATH):
        assert secret not in logged and secret not in errors


@pytest.mark.filterwarnings(LOGIN_WITHOUT_TLS)
@pytest.mark.parametrize("tls", ["starttls", "ssl"])
def test_smtp_over_tls_with_a_login(tls: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))  # trust the test's own certificate
    port = free_port()
    settings = Settings(smtp_host="localhost", smtp_port=port, smtp_tls=tls, smtp_user="rw", smtp_password="pw",
                        mail_from="routewatch@example.com")  # fmt: skip
    body = "Subject: tls\r\nFrom: routewatch@example.com\r\nTo: pm@example.com\r\n\r\nover TLS\r\n"
    with smtp_server(port, tls=tls, cert=cert, login=("rw", "pw")) as box:
        send_email(settings, PM, body)
    assert [rcpt for _, rcpt, _ in box.messages] == [[PM]]


def test_without_chromium_the_email_says_so_and_keeps_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    incident = {
        "id": 7, "dimension": "language", "segment": "hi", "metric": "resolution_rate", "reference": "en",
        "adjusted_gap": -0.09, "gap": -0.1, "ci_low": -0.12, "ci_high": -0.06, "users": 300, "requests": 4000,
        "severity": "critical", "status": "confirmed", "last_window": SUNDAY, "opened_window": SUNDAY,
        "adjusted_se": 0.01,
    }  # fmt: skip
    mail = compose([AlertItem("new", incident)], sender="r@example.com", recipient=PM, dashboard_url="http://d")
    assert "image/png" not in [p.get_content_type() for p in mail.walk()]
    assert "The chart could not be drawn here (no Chromium installed)" in text_of(mail)
    assert "-9.0 points" in text_of(mail, "html")


def test_preview_writes_the_next_emails_and_sends_nothing(world: World, first_run: Any, tmp_path: Path) -> None:
    world.plant(date(2026, 11, 6), "confirmed", -0.06, segment="bn")
    with world.engine.connect() as connection:
        before = connection.scalar(sa.select(sa.func.count()).select_from(outbox))
    written = job.preview(world.store, world.settings, world.rules, tmp_path / "out", engine=world.engine)
    with world.engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(outbox)) == before  # nothing recorded
    emls = [p for p in written if p.suffix == ".eml"]
    pages = [p for p in written if p.suffix == ".html"]
    assert len(emls) == len(pages) == 1
    mail = parsed(emls[0].read_bytes())
    assert mail["To"] == PM and "language=bn" in mail["Subject"]
    if chromium_path() is None:
        pytest.skip("no chromium to look at the HTML email (apt-get install chromium)")
    with browser() as chromium:
        page = chromium.new_page(viewport={"width": 900, "height": 900})
        page.goto(pages[0].as_uri())
        page.screenshot(path=str(tmp_path / "email.png"), full_page=True)
        body = page.inner_text("body")
        assert "language=bn: resolution rate 6.0 points lower than en at the same task mix" in body
        assert page.locator("table").count() >= 1
        assert page.evaluate("document.querySelector('img').naturalWidth") > 600  # the chart, inlined


def test_a_dry_run_lists_what_would_be_sent_and_records_nothing(world: World, first_run: Any) -> None:
    world.plant(date(2026, 11, 7), "confirmed", -0.06, segment="mr")
    env = {"ROUTEWATCH_STORE": world.store.dsn, "ROUTEWATCH_STATE_DB": world.state_db, "ROUTEWATCH_ALERT_TO": PM}
    first = run_cli("alerts", "run", "--dry-run", env_extra=env)
    second = run_cli("alerts", "run", "--dry-run", env_extra=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout  # nothing was recorded in between
    assert first.stdout.startswith(f"email\t{PM}\troutewatch: ") and "language=mr" in first.stdout
    assert "nothing recorded or sent" in first.stderr


def test_the_email_chart_names_its_rows_in_words_and_its_title_fits() -> None:
    """Looked at in Chromium: the title ran past the image and a row read "resolution_rate"."""
    from alerts.message import gap_figure

    incident = {
        "dimension": "language", "segment": "hi", "metric": "resolution_rate", "reference": "en",
        "adjusted_gap": -0.09, "adjusted_se": 0.01, "status": "confirmed", "severity": "critical",
    }  # fmt: skip
    figure = gap_figure([AlertItem("new", incident)])
    assert list(figure.data[0].y) == ["language=hi · resolution rate"]
    assert list(figure.data[0].x) == pytest.approx([-9.0])
    assert figure.data[0].error_x.arrayminus[0] == pytest.approx(1.959964, abs=1e-5)  # points
    assert all(len(line) < 80 for line in figure.layout.title.text.split("<br>"))

"""Delivery a scheduler can trust: every message is recorded in the outbox before it is sent and marked after.

A run claims each unsent message for a lease before sending it, so two runs at once send it once; a failed
message is retried with exponential backoff, then left for the next run (and the run's exit code says so).
Email goes over SMTP (no TLS, STARTTLS or SSL, with a login); webhooks are posted as JSON with httpx. A
password or a webhook URL never reaches a log line or an error: errors name the target and the failure's kind.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.policy import SMTP

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.rules import Rules, Webhook
from alerts.state import now, outbox
from routewatch.settings import Settings

LOG = logging.getLogger("routewatch.alerts")
LEASE = timedelta(minutes=10)  # a claimed message another run may take over after this long (its sender died)
TIMEOUT_S = 30.0


class _HideUrls(logging.Filter):
    """httpx logs each request's URL, and a webhook's URL is a secret: keep its scheme and host only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                f"{arg.scheme}://{arg.host}/***" if isinstance(arg, httpx.URL) else arg for arg in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_HideUrls())


class DeliveryError(RuntimeError):
    """A message could not be delivered; the text names the target and the kind of failure, never a secret.
    ``permanent``: trying again within this run cannot help (a wrong password, a missing URL)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Retry:
    """How often and how patiently a message is tried within one run."""

    attempts: int = 3
    backoff_s: float = 2.0  # waits backoff_s, 2 * backoff_s, ... between attempts


@dataclass
class DeliveryReport:
    """What one delivery pass did: messages sent, failed (left for the next run) and left to another run."""

    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)

    @property
    def undelivered(self) -> int:
        """Messages this run tried and could not deliver."""
        return len(self.failed)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (longest first) replaced by ``***``."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _secrets(settings: Settings, rules: Rules) -> list[str]:
    return [settings.smtp_password, *(w.resolve_url() for w in rules.webhooks)]


def record(connection: sa.Connection, *, key: str, channel: str, target: str, subject: str, body: str) -> bool:
    """Put a message in the outbox unless one with ``key`` is there already; True when it was added."""
    exists = connection.scalar(sa.select(outbox.c.id).where(outbox.c.key == key))
    if exists is not None:
        return False
    connection.execute(
        outbox.insert().values(
            key=key, channel=channel, target=target, subject=subject, body=body, created_at=now(), attempts=0
        )
    )
    return True


def email_body(message: EmailMessage) -> str:
    """The whole message as it goes over SMTP (CRLF line ends, 7-bit headers)."""
    return message.as_string(policy=SMTP)


def send_email(settings: Settings, recipient: str, body: str) -> None:
    """Send one stored message over SMTP with the configured TLS mode and login. Raises DeliveryError, in words
    that tell a host not found from a refused login from a server without STARTTLS; ``permanent`` when trying
    again cannot help until the settings change."""
    where = f"SMTP {settings.smtp_host}:{settings.smtp_port}"
    context = ssl.create_default_context()
    step = "connect"
    try:
        if settings.smtp_tls == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_S, context=context
            )
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_S)
        with client:
            client.ehlo_or_helo_if_needed()
            if settings.smtp_tls == "starttls":
                step = "starttls"
                if not client.has_extn("starttls"):
                    raise DeliveryError(
                        f"{where}: the server does not offer STARTTLS (ROUTEWATCH_SMTP_TLS=starttls)", permanent=True
                    )
                client.starttls(context=context)
                client.ehlo()
            if settings.smtp_user:
                step = "login"
                if not client.has_extn("auth"):
                    raise DeliveryError(
                        f"{where}: the server does not offer AUTH (ROUTEWATCH_SMTP_USER is set)"
                        + (
                            "; it may offer it after STARTTLS (ROUTEWATCH_SMTP_TLS)"
                            if settings.smtp_tls == "none"
                            else ""
                        ),
                        permanent=True,
                    )
                client.login(settings.smtp_user, settings.smtp_password)
            step = "send"
            client.sendmail(settings.mail_from, [recipient], body.encode("ascii"))
    except DeliveryError:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(
            f"{where}: login rejected for user {settings.smtp_user} ({exc.smtp_code})", permanent=True
        ) from None
    except smtplib.SMTPServerDisconnected:
        if step == "login":  # some servers hang up on a wrong password instead of answering 535
            raise DeliveryError(
                f"{where}: the server closed the connection at the login of user {settings.smtp_user} "
                "(most likely the login was rejected)",
                permanent=True,
            ) from None
        raise DeliveryError(f"{where}: the server closed the connection ({step})") from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = ", ".join(str(code) for code, _ in exc.recipients.values())
        raise DeliveryError(f"{where}: the server refused the recipient ({codes})", permanent=True) from None
    except smtplib.SMTPResponseException as exc:
        what = {"connect": "greeting", "send": "message"}.get(step, step)
        raise DeliveryError(
            f"{where}: the server answered {exc.smtp_code} to the {what}", permanent=exc.smtp_code >= 500
        ) from None
    except socket.gaierror as exc:
        raise DeliveryError(
            f"{where}: cannot resolve host {settings.smtp_host}", permanent=exc.errno != socket.EAI_AGAIN
        ) from None
    except ConnectionRefusedError:
        raise DeliveryError(f"{where}: connection refused (is the SMTP server running on that port?)") from None
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError(
            f"{where}: the server's certificate is not trusted ({exc.verify_message})", permanent=True
        ) from None
    except ssl.SSLError as exc:
        hint = (
            " (is this port SMTPS? ROUTEWATCH_SMTP_TLS=ssl needs one; use starttls or none)"
            if step == "connect"
            else ""
        )
        raise DeliveryError(f"{where}: TLS failed: {exc.reason or type(exc).__name__}{hint}", permanent=True) from None
    except TimeoutError:
        raise DeliveryError(f"{where}: no answer within {TIMEOUT_S:.0f} s ({step})") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"{where} ({settings.smtp_tls}): {type(exc).__name__} ({step})") from None


def post_webhook(webhook: Webhook, body: str) -> None:
    """POST a JSON body to a webhook. Raises DeliveryError naming the webhook, never its URL (``permanent`` for
    a missing URL and a 4xx answer other than 408 and 429)."""
    url = webhook.resolve_url()
    if not url:
        where = f"environment variable {webhook.url_env}" if webhook.url_env else "url"
        raise DeliveryError(f"webhook {webhook.name}: no URL ({where} is empty)", permanent=True)
    try:
        reply = httpx.post(url, content=body, headers={"Content-Type": "application/json"}, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:  # its text carries the URL: keep only the kind
        raise DeliveryError(f"webhook {webhook.name}: {type(exc).__name__}") from None
    if reply.status_code >= 300:
        permanent = 400 <= reply.status_code < 500 and reply.status_code not in (408, 429)
        raise DeliveryError(f"webhook {webhook.name}: HTTP {reply.status_code}", permanent=permanent)


def _claim(engine: Engine, message_id: int, worker: str) -> bool:
    """Take a message for this run; False when it is sent or another run holds it."""
    moment = now()
    with engine.begin() as connection:
        claimed = connection.execute(
            outbox.update()
            .where(
                (outbox.c.id == message_id)
                & outbox.c.sent_at.is_(None)
                & (outbox.c.claimed_until.is_(None) | (outbox.c.claimed_until < moment))
            )
            .values(claimed_by=worker, claimed_until=moment + LEASE)
        )
        return claimed.rowcount == 1


def deliver(
    engine: Engine,
    settings: Settings,
    rules: Rules,
    retry: Retry | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryReport:
    """Send every unsent message of the outbox, oldest first, each at most once across concurrent runs."""
    retry = retry or Retry()
    worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    webhooks = {w.name: w for w in rules.webhooks}
    secrets = _secrets(settings, rules)
    report = DeliveryReport()
    with engine.connect() as connection:
        pending = connection.execute(
            sa.select(outbox.c.id, outbox.c.channel, outbox.c.target, outbox.c.key)
            .where(outbox.c.sent_at.is_(None))
            .order_by(outbox.c.id)
        ).all()
    for message_id, channel, target, key in pending:
        if not _claim(engine, message_id, worker):
            report.busy.append(key)
            continue
        with engine.connect() as connection:
            body = connection.scalar(sa.select(outbox.c.body).where(outbox.c.id == message_id)) or ""
        error = ""
        tries = 0
        for attempt in range(retry.attempts):
            tries += 1
            try:
                if channel == "email":
                    send_email(settings, target, body)
                elif target in webhooks:
                    post_webhook(webhooks[target], body)
                else:
                    raise DeliveryError(f"webhook {target}: not in the rules any more", permanent=True)
                error = ""
                break
            except DeliveryError as exc:
                error = scrub(str(exc), secrets)
                if exc.permanent:
                    LOG.warning("delivery of %s failed: %s (not retried in this run: fix the settings)", key, error)
                    break
                LOG.warning("delivery of %s failed (attempt %d of %d): %s", key, attempt + 1, retry.attempts, error)
                if attempt + 1 < retry.attempts:
                    sleep(retry.backoff_s * 2**attempt)
        with engine.begin() as connection:
            connection.execute(
                outbox.update()
                .where(outbox.c.id == message_id)
                .values(
                    attempts=outbox.c.attempts + tries,
                    last_error=error or None,
                    claimed_by=None,
                    claimed_until=None,
                    sent_at=None if error else now(),
                )
            )
        (report.failed if error else report.sent).append(key)
        if not error:
            LOG.info("delivered %s", key)
    return report


def undelivered(engine: Engine) -> list[dict[str, object]]:
    """The messages still waiting, with their attempts and last error (for ``alerts run`` and the dashboard)."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(outbox.c.key, outbox.c.attempts, outbox.c.last_error).where(outbox.c.sent_at.is_(None))
        ).mappings()
        return [dict(row) for row in rows]

"""Real servers for the alert tests: the state database (SQLite file or PostgreSQL), an SMTP server (aiosmtpd on
127.0.0.1) and an HTTP server that receives webhooks.

PostgreSQL: ``ROUTEWATCH_TEST_POSTGRES_URL`` (``.ci/run`` starts Debian's server and sets it), else the same URL
on 127.0.0.1. Each test gets its own schema. When no server answers, the test is skipped with the reason, except
in CI (``CI`` set), where that is a failure.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.state import open_state

LOGIN_WITHOUT_TLS = "ignore:Requiring AUTH while not requiring TLS"
POSTGRES_URL = "postgresql+psycopg://routewatch:routewatch@127.0.0.1:5432/routewatch_test"


@contextmanager
def state_engine(kind: str, tmp_path: Path) -> Iterator[Engine]:
    """A migrated state database of ``kind`` (sqlite or postgresql), empty, dropped afterwards."""
    if kind == "sqlite":
        engine = open_state(f"sqlite:///{tmp_path / 'alerts.sqlite'}")
        yield engine
        engine.dispose()
        return
    # CI's server (.ci/postgres) speaks on a Unix socket; the state database goes through psycopg 3.
    given = os.environ.get("ROUTEWATCH_TEST_POSTGRES_URL", POSTGRES_URL)
    url = sa.make_url(given).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    try:
        with admin.begin() as connection:
            connection.execute(sa.schema.CreateSchema(schema))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        reason = f"no PostgreSQL at {sa.make_url(url).render_as_string(hide_password=True)}: {type(exc).__name__}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (.ci/run starts one)")
        pytest.skip(f"{reason}; .ci/run installs and starts Debian's postgresql")
    scoped = sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = open_state(scoped.render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(sa.schema.DropSchema(schema, cascade=True))
        admin.dispose()


@dataclass
class Mailbox:
    """What the SMTP server received: (envelope sender, envelope recipients, raw message) per message."""

    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    delay_s: float = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay_s:
            time.sleep(self.delay_s)  # a slow server: a second sender would have time to send too
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost and its key, as PEM files (the test's own CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@contextmanager
def smtp_server(
    port: int, *, tls: str = "none", cert: tuple[Path, Path] | None = None, login: tuple[str, str] | None = None,
    mailbox: Mailbox | None = None,
) -> Iterator[Mailbox]:  # fmt: skip
    """An aiosmtpd server on 127.0.0.1:``port`` (none, starttls or ssl; with a login if given). A login without
    TLS makes aiosmtpd warn on every connection: such a test ignores ``LOGIN_WITHOUT_TLS``."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    box = mailbox or Mailbox()
    options: dict[str, Any] = {}
    context = None
    if cert is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    if tls == "starttls":
        options.update(tls_context=context, require_starttls=True)
    if login is not None:

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == login
            return AuthResult(success=ok)

        options.update(authenticator=authenticate, auth_required=True, auth_require_tls=tls == "starttls")
        # (aiosmtpd does not see SMTPS as TLS and would hide AUTH: on "ssl" the login is over TLS all the same)
    controller = Controller(
        box, hostname="127.0.0.1", port=port, ssl_context=context if tls == "ssl" else None, **options
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@dataclass
class Hooks:
    """What the webhook server received: (path, JSON body) per request; ``status`` is what it answers."""

    received: list[tuple[str, Any]] = field(default_factory=list)
    status: int = 200


@contextmanager
def webhook_server() -> Iterator[tuple[str, Hooks]]:
    """A stdlib HTTP server on 127.0.0.1 in a thread; yields its base URL and what it received."""
    hooks = Hooks()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            hooks.received.append((self.path, json.loads(self.rfile.read(length))))
            self.send_response(hooks.status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hooks
    finally:
        server.shutdown()
        server.server_close()

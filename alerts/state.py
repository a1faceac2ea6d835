"""The alert state database (SQLAlchemy; its schema versioned by Alembic): incidents, their history, the decided
windows already evaluated, and the outbox of messages to deliver.

``ROUTEWATCH_STATE_DB`` is a SQLAlchemy URL (``postgresql+psycopg://...`` in production); by default a SQLite file
``alerts.sqlite`` in the store's own state directory (``<store>.state/``).
Writers take the database's write lock at the start of a transaction
(SQLite: ``BEGIN IMMEDIATE``), so two jobs at once take turns instead of failing half-way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from routewatch.settings import Settings
from routewatch.store import Store

STATE_FILE = "alerts.sqlite"
SQLITE_BUSY_TIMEOUT_S = 60
MIGRATION_LOCK_KEY = 0x526F7574  # PostgreSQL advisory lock that serializes migrations

METADATA = sa.MetaData()

# One row per alert: one open incident at most per (dimension, segment, metric), many resolved ones.
incidents = sa.Table(
    "incidents",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("dimension", sa.String(200), nullable=False),
    sa.Column("segment", sa.Text, nullable=False),
    sa.Column("metric", sa.String(64), nullable=False),
    sa.Column("reference", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # open | resolved
    sa.Column("severity", sa.String(16), nullable=False),  # warning | high | critical
    sa.Column("opened_window", sa.Date, nullable=False),
    sa.Column("last_window", sa.Date, nullable=False),
    sa.Column("resolved_window", sa.Date),
    sa.Column("status", sa.String(32), nullable=False),  # the verdict of the last window that judged it
    sa.Column("value", sa.Float),
    sa.Column("reference_value", sa.Float),
    sa.Column("gap", sa.Float),
    sa.Column("ci_low", sa.Float),
    sa.Column("ci_high", sa.Float),
    sa.Column("adjusted_gap", sa.Float),
    sa.Column("adjusted_se", sa.Float),  # the adjusted gap's standard error: its own interval
    sa.Column("p_adjusted", sa.Float),
    sa.Column("requests", sa.BigInteger, nullable=False, default=0),
    sa.Column("users", sa.BigInteger, nullable=False, default=0),
    sa.Column("notified_gap", sa.Float),  # the adjusted gap last told: "worse" compares with it
    sa.Column("notified_severity", sa.String(16)),
    sa.Column("clean_audits", sa.Integer, nullable=False, default=0),
    sa.Column("acknowledged_by", sa.String(200)),
    sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
    sa.Column("snoozed_until", sa.Date),
    sa.Column("note", sa.Text),
    # The verdict that opened the incident (its newest verdict may say something else since).
    sa.Column("opened_status", sa.String(32)),
    sa.Column("opened_gap", sa.Float),
    sa.Column("opened_se", sa.Float),
    sa.Column("opened_users", sa.BigInteger),
    sa.Column("opened_requests", sa.BigInteger),
    # The newest weekly audit's status (``routewatch second-class`` reads the weekly audit too).
    sa.Column("audit_status", sa.String(32)),
    sa.Column("audit_window", sa.Date),
    sa.Index(
        "one_open_incident",
        "dimension",
        "segment",
        "metric",
        unique=True,
        sqlite_where=sa.text("state = 'open'"),
        postgresql_where=sa.text("state = 'open'"),
    ),
)

# What happened to an incident, in order: new, ongoing, worse, resolved, acknowledged, snoozed.
incident_events = sa.Table(
    "incident_events",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("window_start", sa.Date),
    sa.Column("status", sa.String(32)),
    sa.Column("severity", sa.String(16)),
    sa.Column("adjusted_gap", sa.Float),
    sa.Column("actor", sa.String(200)),
    sa.Column("note", sa.Text),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

# Each decided window is evaluated once; the row is written in the same transaction as what it caused.
evaluated_windows = sa.Table(
    "evaluated_windows",
    METADATA,
    sa.Column("window_start", sa.Date, primary_key=True),
    sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
)

# What each evaluated verdict was (its status and numbers, as a fingerprint), so that a window judged again
# (``decide --redo-from``) is evaluated again on the verdicts that changed only.
evaluated_verdicts = sa.Table(
    "evaluated_verdicts",
    METADATA,
    sa.Column("window_start", sa.Date, primary_key=True),
    sa.Column("dimension", sa.String(200), primary_key=True),
    sa.Column("segment", sa.Text, primary_key=True),
    sa.Column("metric", sa.String(64), primary_key=True),
    sa.Column("fingerprint", sa.Text, nullable=False),
    sa.Column("clean_audit", sa.Boolean, nullable=False),  # it counted towards closing an incident
)

# A message is recorded here before it is sent and marked after; ``key`` makes the same message unique.
outbox = sa.Table(
    "outbox",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(400), nullable=False, unique=True),
    sa.Column("channel", sa.String(16), nullable=False),  # email | webhook
    sa.Column("target", sa.String(400), nullable=False),  # an address, or a webhook's name (never its URL)
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the whole MIME message, or the JSON body
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("claimed_by", sa.String(100)),
    sa.Column("claimed_until", sa.DateTime(timezone=True)),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
)


def now() -> datetime:
    """The current UTC time (the state database stores aware UTC times)."""
    return datetime.now(UTC)


def state_url(settings: Settings, *, create: bool = True) -> str:
    """``ROUTEWATCH_STATE_DB``, or a SQLite file in the store's own state directory (``Store.state_dir``:
    ``<store>.state/alerts.sqlite``), so that two stores in one directory never share incidents or an outbox;
    ``create``: make that directory."""
    if settings.state_db:
        return settings.state_db
    folder = Store(settings.store_dsn).state_dir
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / STATE_FILE).resolve()}"


def display_url(url: str) -> str:
    """A state database URL fit for a log or a screen: its password replaced by ``***``."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(not a SQLAlchemy URL)"


def _sqlite_write_lock(engine: Engine) -> None:
    """pysqlite begins transactions lazily (a reader can then fail to upgrade to a writer): take the lock at BEGIN."""

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def open_state(url: str, *, migrate: bool = True) -> Engine:
    """An engine on the state database at ``url``, its schema brought to the newest Alembic revision.

    Raises ``sqlalchemy.exc.ArgumentError`` for a malformed URL, ``NoSuchModuleError`` when its driver is not
    installed, and ``OperationalError`` when it cannot connect (each with the password hidden).
    """
    try:
        if url.startswith("sqlite"):
            engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
            _sqlite_write_lock(engine)
        else:
            engine = sa.create_engine(url, pool_pre_ping=True)
    except ImportError as exc:  # the URL names a driver this installation lacks (mysql://, ...)
        scheme = display_url(url).split(":", 1)[0]
        raise sa.exc.NoSuchModuleError(
            f"no driver for {scheme}: the Python module {exc.name or 'it needs'} is not installed "
            "(routewatch ships postgresql+psycopg:// and sqlite:///)"
        ) from None
    if migrate:
        upgrade(engine)
    return engine


def head_revision() -> str:
    """The newest Alembic revision of the state schema."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).resolve().parent / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def open_state_unchanged(url: str) -> tuple[Engine, str]:
    """An engine for a dry run or a preview, which must neither create nor migrate the state database: the
    database itself when it exists at the newest revision, else an empty one in memory, with a sentence saying so.
    """
    if url.startswith("sqlite"):
        database = sa.make_url(url).database
        if database and database != ":memory:" and not Path(database).exists():
            return _scratch(), "the state database does not exist yet: this is what a first run would do"
    engine = open_state(url, migrate=False)
    current, head = revision(engine), head_revision()
    if current == head:
        return engine, ""
    engine.dispose()
    where = "has no alert schema yet" if current is None else f"is at schema revision {current}, not {head}"
    return _scratch(), f"the state database {where} and is left as it is: this is what a run on an empty state would do"


def _scratch() -> Engine:
    """An empty, migrated state database in memory (one connection, kept for the engine's life)."""
    engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool)
    _sqlite_write_lock(engine)
    upgrade(engine)
    return engine


def upgrade(engine: Engine) -> None:
    """Apply every Alembic revision the database lacks (one process at a time)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).resolve().parent / "migrations"))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at (None before the first migration)."""
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()

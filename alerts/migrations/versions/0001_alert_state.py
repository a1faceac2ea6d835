"""The alert state: incidents with their events, evaluated windows, the outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dimension", sa.String(200), nullable=False),
        sa.Column("segment", sa.Text, nullable=False),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("opened_window", sa.Date, nullable=False),
        sa.Column("last_window", sa.Date, nullable=False),
        sa.Column("resolved_window", sa.Date),
        sa.Column("status", sa.String(32), nullable=False),
        *(sa.Column(name, sa.Float) for name in ("value", "reference_value", "gap", "ci_low", "ci_high")),
        sa.Column("adjusted_gap", sa.Float),
        sa.Column("p_adjusted", sa.Float),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("users", sa.BigInteger, nullable=False),
        sa.Column("notified_gap", sa.Float),
        sa.Column("notified_severity", sa.String(16)),
        sa.Column("clean_audits", sa.Integer, nullable=False),
        sa.Column("acknowledged_by", sa.String(200)),
        sa.Column("acknowledged_at", WHEN),
        sa.Column("snoozed_until", sa.Date),
        sa.Column("note", sa.Text),
    )
    op.create_index(
        "one_open_incident",
        "incidents",
        ["dimension", "segment", "metric"],
        unique=True,
        sqlite_where=sa.text("state = 'open'"),
        postgresql_where=sa.text("state = 'open'"),
    )
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("window_start", sa.Date),
        sa.Column("status", sa.String(32)),
        sa.Column("severity", sa.String(16)),
        sa.Column("adjusted_gap", sa.Float),
        sa.Column("actor", sa.String(200)),
        sa.Column("note", sa.Text),
        sa.Column("at", WHEN, nullable=False),
    )
    op.create_index("ix_incident_events_incident_id", "incident_events", ["incident_id"])
    op.create_table(
        "evaluated_windows",
        sa.Column("window_start", sa.Date, primary_key=True),
        sa.Column("evaluated_at", WHEN, nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(400), nullable=False, unique=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.String(400), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("claimed_by", sa.String(100)),
        sa.Column("claimed_until", WHEN),
        sa.Column("sent_at", WHEN),
    )


def downgrade() -> None:
    for table in ("outbox", "evaluated_windows", "incident_events", "incidents"):
        op.drop_table(table)

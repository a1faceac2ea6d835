"""Each incident keeps the verdict that opened it (status, adjusted gap and its standard error, users and
requests) beside its newest one, its newest weekly audit's status, and the standard error of the newest
adjusted gap, so that a message prints the adjusted gap with its own interval.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = (
    ("adjusted_se", sa.Float),
    ("opened_status", sa.String(32)),
    ("opened_gap", sa.Float),
    ("opened_se", sa.Float),
    ("opened_users", sa.BigInteger),
    ("opened_requests", sa.BigInteger),
    ("audit_status", sa.String(32)),
    ("audit_window", sa.Date),
)


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)

"""The verdicts each evaluation applied, so that a window judged again is evaluated again on what changed only.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluated_verdicts",
        sa.Column("window_start", sa.Date, primary_key=True),
        sa.Column("dimension", sa.String(200), primary_key=True),
        sa.Column("segment", sa.Text, primary_key=True),
        sa.Column("metric", sa.String(64), primary_key=True),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("clean_audit", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("evaluated_verdicts")

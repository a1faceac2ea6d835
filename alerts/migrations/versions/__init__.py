"""Alembic revisions of the alert state database, oldest first."""

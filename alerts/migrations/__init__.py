"""Alembic migrations of the alert state database (run by ``alerts.state.upgrade``)."""

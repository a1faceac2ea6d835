"""Alembic environment: migrate the connection that ``alerts.state.upgrade`` hands over, in its transaction."""

from alembic import context

from alerts.state import METADATA

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=METADATA, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

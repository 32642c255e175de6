"""Alembic's entry point: sitecheck always hands it an open connection inside a transaction."""

from alembic import context

context.configure(connection=context.config.attributes["connection"])
with context.begin_transaction():
    context.run_migrations()

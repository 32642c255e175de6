"""Alembic's entry point: sitecheck hands it an open connection inside a transaction, or, to
render a new SQLite store's script (sitecheck.storedb.render_sqlite_script), a dialect name."""

from alembic import context

if context.is_offline_mode():
    context.configure(dialect_name=context.config.attributes["dialect"], literal_binds=True)
else:
    context.configure(connection=context.config.attributes["connection"])
with context.begin_transaction():
    context.run_migrations()

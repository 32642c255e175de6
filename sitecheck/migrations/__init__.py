"""Alembic revisions of the store's schema, for SQLite and PostgreSQL alike (sitecheck.storedb runs them)."""

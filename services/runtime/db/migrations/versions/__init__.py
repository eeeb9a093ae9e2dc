"""Alembic revisions of the read-model database (alembic skips this file)."""

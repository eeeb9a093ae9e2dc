"""Alembic environment of the read-model database; run it with ``services.runtime.db.migrate``."""

"""Alembic environment: loaded by alembic only, never imported by the services.

``services.runtime.db.migrate`` builds the ``Config`` in code and passes an open connection in
``config.attributes["connection"]``; without one, the ``sqlalchemy.url`` option is used.
Autogenerate compares only the ``hpo_`` tables: the Optuna storage shares the database.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection

from services.runtime.db.engine import create_engine_for
from services.runtime.db.schema import TABLE_PREFIX, VERSION_TABLE, metadata


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Leave every table that is not ours (Optuna's) out of autogenerate comparisons."""
    if type_ == "table":
        return name is not None and name.startswith(TABLE_PREFIX)
    return True


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_object=include_object,
        render_as_batch=True,
        compare_type=True,
        **kwargs,
    )


def run_offline() -> None:
    _configure(url=context.config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_with(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection and no sqlalchemy.url: use services.runtime.db.migrate.upgrade(url)")
    engine = create_engine_for(url)
    try:
        with engine.begin() as conn:
            _run_with(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()

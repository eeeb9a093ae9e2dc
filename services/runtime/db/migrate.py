"""Run the read-model migrations: a function (``upgrade``) and a command
(``python -m services.runtime.db.migrate DATABASE_URL``). Nothing runs on import.

The Alembic ``Config`` is built in code (no ``alembic.ini``); ``script_location`` is the
``migrations`` folder of this package and the version table is ``hpo_alembic_version``, apart from
the ``alembic_version`` table of the Optuna storage that shares the database.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, make_url

from services.runtime.db.engine import create_engine_for
from services.runtime.db.schema import VERSION_TABLE

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str | URL | None = None) -> Config:
    """An Alembic ``Config`` for the read-model migrations, built in code."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if database_url is not None:
        rendered = make_url(database_url).render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at ``database_url`` up to ``revision`` (creating the tables on an empty one)."""
    _run(database_url, lambda config: command.upgrade(config, revision))


def downgrade(database_url: str, revision: str) -> None:
    """Take the database back to ``revision`` (``"base"`` drops every read-model table)."""
    _run(database_url, lambda config: command.downgrade(config, revision))


def current_revision(database_url: str) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            return context.get_current_revision()
    finally:
        engine.dispose()


def _run(database_url: str, action: Callable[[Config], None]) -> None:
    engine = create_engine_for(database_url)
    try:
        with engine.begin() as conn:
            config = alembic_config(database_url)
            config.attributes["connection"] = conn
            action(config)
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m services.runtime.db.migrate DATABASE_URL [REVISION]``."""
    parser = argparse.ArgumentParser(description="Migrate the hpo read-model database.")
    parser.add_argument("database_url")
    parser.add_argument("revision", nargs="?", default="head")
    args = parser.parse_args(argv)
    upgrade(args.database_url, args.revision)
    print(f"read-model database at revision {current_revision(args.database_url)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``INSERT ... ON CONFLICT`` statements for Postgres and SQLite, built once per shape.

The values travel as parameters, so every upsert of one shape reuses one statement and its compiled form
(building the ``excluded`` columns alone costs more CPU than the round trip). The read model's repository
and the scheduler's writes into Optuna's tables both use it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

NATIVE_UPSERT_DIALECTS = frozenset({"postgresql", "sqlite"})


@lru_cache(maxsize=512)
def on_conflict(dialect: str, table: Table, keys: tuple[str, ...], columns: tuple[str, ...]) -> Any:
    """An insert into ``table`` that, on a conflict of ``keys``, updates ``columns`` (none: does nothing).
    ``dialect`` is one of ``NATIVE_UPSERT_DIALECTS``."""
    stmt = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(table)
    if not columns:
        return stmt.on_conflict_do_nothing(index_elements=list(keys))
    excluded = stmt.excluded
    return stmt.on_conflict_do_update(index_elements=list(keys), set_={c: excluded[c] for c in columns})

"""indexes for the orders trials are read in (pages by number, score, accuracy, health; counts by state)

Revision ID: 0003_trial_order_indexes
Revises: 0002_owners_and_tokens
Create Date: 2026-12-01 00:00:00

"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003_trial_order_indexes"
down_revision: str | Sequence[str] | None = "0002_owners_and_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORDER = ("number", "attempt", "trial_id")
DESCENDING = {"score": "score", "val_accuracy": "val_accuracy", "health": "overall_health"}


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"  # where DESC already puts NULLs last (and NULLS LAST is refused)
    op.drop_index("ix_hpo_trials_study_score", table_name="hpo_trials")
    op.drop_index("ix_hpo_trials_study_number", table_name="hpo_trials")
    op.create_index("ix_hpo_trials_study_state", "hpo_trials", ["study_id", "state"])
    op.create_index("ix_hpo_trials_study_order", "hpo_trials", ["study_id", *ORDER])
    for name, column in DESCENDING.items():
        descending: Any = sa.column(column).desc() if sqlite else sa.column(column).desc().nulls_last()
        keys = [sa.column("study_id"), descending, *(sa.column(c) for c in ORDER)]
        op.create_index(f"ix_hpo_trials_study_{name}_desc", "hpo_trials", keys)


def downgrade() -> None:
    for name in DESCENDING:
        op.drop_index(f"ix_hpo_trials_study_{name}_desc", table_name="hpo_trials")
    op.drop_index("ix_hpo_trials_study_order", table_name="hpo_trials")
    op.drop_index("ix_hpo_trials_study_state", table_name="hpo_trials")
    op.create_index("ix_hpo_trials_study_number", "hpo_trials", ["study_id", "number"])
    op.create_index("ix_hpo_trials_study_score", "hpo_trials", ["study_id", "score"])

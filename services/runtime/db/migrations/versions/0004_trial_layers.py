"""each trial's architecture, layer by layer (kept apart from hpo_trials so that trial pages stay lean)

Revision ID: 0004_trial_layers
Revises: 0003_trial_order_indexes
Create Date: 2026-12-01 00:00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_trial_layers"
down_revision: str | Sequence[str] | None = "0003_trial_order_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hpo_trial_layers",
        sa.Column("trial_id", sa.String(128), nullable=False),
        sa.Column("study_id", sa.String(128), nullable=False),
        sa.Column("layers", sa.JSON(none_as_null=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["trial_id"],
            ["hpo_trials.trial_id"],
            name="fk_hpo_trial_layers_trial_id_hpo_trials",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("trial_id", name="pk_hpo_trial_layers"),
    )
    op.create_index("ix_hpo_trial_layers_study_id", "hpo_trial_layers", ["study_id"])


def downgrade() -> None:
    op.drop_index("ix_hpo_trial_layers_study_id", table_name="hpo_trial_layers")
    op.drop_table("hpo_trial_layers")

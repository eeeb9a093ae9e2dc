"""owners of studies, named API tokens, and the data notes of a study

Revision ID: 0002_owners_and_tokens
Revises: 0001_read_models
Create Date: 2026-12-01 00:00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_owners_and_tokens"
down_revision: str | Sequence[str] | None = "0001_read_models"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("hpo_studies") as batch:
        batch.add_column(sa.Column("owner", sa.String(64), nullable=True))
        batch.create_index("ix_hpo_studies_owner", ["owner"])
        batch.add_column(sa.Column("data_notes", sa.JSON(none_as_null=True), nullable=True))
    op.create_table(
        "hpo_api_tokens",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ, nullable=True),
        sa.Column("max_trial_epochs", sa.Integer(), nullable=True),
        sa.Column("max_running_studies", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_hpo_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_hpo_api_tokens_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("hpo_api_tokens")
    with op.batch_alter_table("hpo_studies") as batch:
        batch.drop_column("data_notes")
        batch.drop_index("ix_hpo_studies_owner")
        batch.drop_column("owner")

"""read models: studies, trials, epochs, health alerts, processed events, artifacts

Revision ID: 0001_read_models
Revises:
Create Date: 2025-01-01 00:00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_read_models"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(128)
STATE = sa.String(32)
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hpo_studies",
        sa.Column("study_id", ID, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("dataset", sa.String(64), nullable=True),
        sa.Column("mode", sa.String(32), nullable=True),
        sa.Column("objective", sa.String(64), nullable=True),
        sa.Column("config", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("state", STATE, nullable=False),
        sa.Column("created_at", TZ, nullable=True),
        sa.Column("completed_at", TZ, nullable=True),
        sa.Column("best_trial_id", ID, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("counts", sa.JSON(none_as_null=True), nullable=True),
        sa.PrimaryKeyConstraint("study_id", name="pk_hpo_studies"),
    )
    op.create_table(
        "hpo_trials",
        sa.Column("trial_id", ID, nullable=False),
        sa.Column("study_id", ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("attempt", sa.Integer(), server_default="1", nullable=False),
        sa.Column("state", STATE, server_default="requested", nullable=False),
        sa.Column("params", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("trainer_id", sa.String(255), nullable=True),
        sa.Column("architecture", sa.Text(), nullable=True),
        sa.Column("parameter_count", sa.BigInteger(), nullable=True),
        sa.Column("metrics", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("val_accuracy", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("objective_score", sa.Float(), nullable=True),
        sa.Column("overall_health", sa.Float(), nullable=True),
        sa.Column("health", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("model_key", sa.String(1024), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("epochs_trained", sa.Integer(), server_default="0", nullable=False),
        sa.Column("started_at", TZ, nullable=True),
        sa.Column("finished_at", TZ, nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("trial_id", name="pk_hpo_trials"),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["hpo_studies.study_id"],
            name="fk_hpo_trials_study_id_hpo_studies",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_hpo_trials_study_id", "hpo_trials", ["study_id"])
    op.create_index("ix_hpo_trials_study_score", "hpo_trials", ["study_id", "score"])
    op.create_index("ix_hpo_trials_study_number", "hpo_trials", ["study_id", "number"])
    op.create_table(
        "hpo_epochs",
        sa.Column("trial_id", ID, nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("study_id", ID, nullable=False),
        sa.Column("loss", sa.Float(), nullable=True),
        sa.Column("accuracy", sa.Float(), nullable=True),
        sa.Column("val_loss", sa.Float(), nullable=True),
        sa.Column("val_accuracy", sa.Float(), nullable=True),
        sa.Column("epoch_seconds", sa.Float(), nullable=True),
        sa.Column("telemetry", sa.JSON(none_as_null=True), nullable=True),
        sa.PrimaryKeyConstraint("trial_id", "epoch", name="pk_hpo_epochs"),
        sa.ForeignKeyConstraint(
            ["trial_id"],
            ["hpo_trials.trial_id"],
            name="fk_hpo_epochs_trial_id_hpo_trials",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_hpo_epochs_study_id", "hpo_epochs", ["study_id"])
    op.create_table(
        "hpo_health_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("study_id", ID, nullable=False),
        sa.Column("trial_id", ID, nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(32), nullable=False),
        sa.Column("layer", sa.String(255), server_default="", nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_hpo_health_alerts"),
        sa.UniqueConstraint("trial_id", "kind", "layer", name="uq_hpo_health_alerts_trial_kind_layer"),
        sa.ForeignKeyConstraint(
            ["trial_id"],
            ["hpo_trials.trial_id"],
            name="fk_hpo_health_alerts_trial_id_hpo_trials",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_hpo_health_alerts_study_id", "hpo_health_alerts", ["study_id"])
    op.create_table(
        "hpo_processed_events",
        sa.Column("consumer", sa.String(64), nullable=False),
        sa.Column("event_id", ID, nullable=False),
        sa.Column("processed_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name="pk_hpo_processed_events"),
    )
    op.create_table(
        "hpo_artifacts",
        sa.Column("key", sa.String(1024), nullable=False),
        sa.Column("study_id", ID, nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_hpo_artifacts"),
    )
    op.create_index("ix_hpo_artifacts_study_id", "hpo_artifacts", ["study_id"])


def downgrade() -> None:
    op.drop_index("ix_hpo_artifacts_study_id", table_name="hpo_artifacts")
    op.drop_table("hpo_artifacts")
    op.drop_table("hpo_processed_events")
    op.drop_index("ix_hpo_health_alerts_study_id", table_name="hpo_health_alerts")
    op.drop_table("hpo_health_alerts")
    op.drop_index("ix_hpo_epochs_study_id", table_name="hpo_epochs")
    op.drop_table("hpo_epochs")
    op.drop_index("ix_hpo_trials_study_number", table_name="hpo_trials")
    op.drop_index("ix_hpo_trials_study_score", table_name="hpo_trials")
    op.drop_index("ix_hpo_trials_study_id", table_name="hpo_trials")
    op.drop_table("hpo_trials")
    op.drop_table("hpo_studies")

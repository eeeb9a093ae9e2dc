"""The read-model tables (SQLAlchemy Core), written by the reporter and read by the API and the UI.

Every table name carries the ``hpo_`` prefix: the Optuna storage lives in the same database and
owns the unprefixed ``studies`` and ``trials`` tables (and ``alembic_version``, hence our own
``hpo_alembic_version``). Types are portable so that SQLite and Postgres share one schema;
``services/runtime/db/migrations`` creates exactly this metadata (a test compares them).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

TABLE_PREFIX = "hpo_"
VERSION_TABLE = "hpo_alembic_version"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

_ID = String(128)
_STATE = String(32)

studies = Table(
    f"{TABLE_PREFIX}studies",
    metadata,
    Column("study_id", _ID, primary_key=True),
    Column("name", String(255), nullable=False),
    Column("dataset", String(64), nullable=True),
    Column("mode", String(32), nullable=True),
    Column("objective", String(64), nullable=True),
    Column("config", JSON(none_as_null=True), nullable=True),
    Column("state", _STATE, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=True),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Column("best_trial_id", _ID, nullable=True),
    Column("reason", Text, nullable=True),
    Column("counts", JSON(none_as_null=True), nullable=True),
    Column("owner", String(64), nullable=True, index=True),
    Column("data_notes", JSON(none_as_null=True), nullable=True),
)

trials = Table(
    f"{TABLE_PREFIX}trials",
    metadata,
    Column("trial_id", _ID, primary_key=True),
    Column(
        "study_id",
        _ID,
        ForeignKey(studies.c.study_id, ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("number", Integer, nullable=True),
    Column("attempt", Integer, nullable=False, server_default="1"),
    Column("state", _STATE, nullable=False, server_default="requested"),
    Column("params", JSON(none_as_null=True), nullable=True),
    Column("trainer_id", String(255), nullable=True),
    Column("architecture", Text, nullable=True),
    Column("parameter_count", BigInteger, nullable=True),
    Column("metrics", JSON(none_as_null=True), nullable=True),
    Column("val_accuracy", Float, nullable=True),
    Column("score", Float, nullable=True),
    Column("objective_score", Float, nullable=True),
    Column("overall_health", Float, nullable=True),
    Column("health", JSON(none_as_null=True), nullable=True),
    Column("model_key", String(1024), nullable=True),
    Column("reason", Text, nullable=True),
    Column("epochs_trained", Integer, nullable=False, server_default="0"),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("duration_seconds", Float, nullable=True),
    Index(f"ix_{TABLE_PREFIX}trials_study_state", "study_id", "state"),
)
# The orders the trials pages and charts read in, each an index that holds the page's keys
# (``list_trials`` picks a page from the index alone, then reads only that page's rows).
_TRIAL_ORDER = (trials.c.number, trials.c.attempt, trials.c.trial_id)
Index(f"ix_{TABLE_PREFIX}trials_study_order", trials.c.study_id, *_TRIAL_ORDER)
for _name, _column in (("score", trials.c.score), ("val_accuracy", trials.c.val_accuracy)):
    Index(f"ix_{TABLE_PREFIX}trials_study_{_name}_desc", trials.c.study_id, _column.desc().nulls_last(), *_TRIAL_ORDER)
Index(
    f"ix_{TABLE_PREFIX}trials_study_health_desc",
    trials.c.study_id,
    trials.c.overall_health.desc().nulls_last(),
    *_TRIAL_ORDER,
)

epochs = Table(
    f"{TABLE_PREFIX}epochs",
    metadata,
    Column(
        "trial_id",
        _ID,
        ForeignKey(trials.c.trial_id, ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("epoch", Integer, primary_key=True),
    Column("study_id", _ID, nullable=False, index=True),
    Column("loss", Float, nullable=True),
    Column("accuracy", Float, nullable=True),
    Column("val_loss", Float, nullable=True),
    Column("val_accuracy", Float, nullable=True),
    Column("epoch_seconds", Float, nullable=True),
    Column("telemetry", JSON(none_as_null=True), nullable=True),
)

health_alerts = Table(
    f"{TABLE_PREFIX}health_alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("study_id", _ID, nullable=False, index=True),
    Column(
        "trial_id",
        _ID,
        ForeignKey(trials.c.trial_id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column("epoch", Integer, nullable=True),
    Column("kind", String(64), nullable=False),
    Column("severity", String(32), nullable=False),
    # "" (never NULL) when the alert concerns the whole model: NULLs never collide in a UNIQUE.
    Column("layer", String(255), nullable=False, server_default=""),
    Column("message", Text, nullable=False),
    UniqueConstraint("trial_id", "kind", "layer", name=f"uq_{TABLE_PREFIX}health_alerts_trial_kind_layer"),
)

trial_layers = Table(
    f"{TABLE_PREFIX}trial_layers",
    metadata,
    Column(
        "trial_id",
        _ID,
        ForeignKey(trials.c.trial_id, ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("study_id", _ID, nullable=False, index=True),
    # A list of ``contracts.architecture.LayerSpec`` JSON; apart from ``trials`` so that pages stay lean.
    Column("layers", JSON(none_as_null=True), nullable=False),
)

processed_events = Table(
    f"{TABLE_PREFIX}processed_events",
    metadata,
    Column("consumer", String(64), primary_key=True),
    Column("event_id", _ID, primary_key=True),
    Column("processed_at", DateTime(timezone=True), nullable=False),
)

artifacts = Table(
    f"{TABLE_PREFIX}artifacts",
    metadata,
    Column("key", String(1024), primary_key=True),
    Column("study_id", _ID, nullable=True, index=True),
    Column("kind", String(32), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
)

api_tokens = Table(
    f"{TABLE_PREFIX}api_tokens",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("max_trial_epochs", Integer, nullable=True),
    Column("max_running_studies", Integer, nullable=True),
)

ALL_TABLES: tuple[Table, ...] = (
    studies,
    trials,
    epochs,
    health_alerts,
    trial_layers,
    processed_events,
    artifacts,
    api_tokens,
)

"""The read-model database: schema, engines, migrations (``migrate``) and the repository.

Importing this package opens nothing and migrates nothing; ``migrate.upgrade(url)`` does.
"""

from services.runtime.db.engine import create_engine_for, sqlite_url
from services.runtime.db.records import (
    TRIAL_SORT_KEYS,
    AlertRecord,
    ArtifactRecord,
    EpochRecord,
    StudyRecord,
    TrialRecord,
)
from services.runtime.db.repository import ReadModelRepository, RepositoryError

__all__ = [
    "TRIAL_SORT_KEYS",
    "AlertRecord",
    "ArtifactRecord",
    "EpochRecord",
    "ReadModelRepository",
    "RepositoryError",
    "StudyRecord",
    "TrialRecord",
    "create_engine_for",
    "sqlite_url",
]

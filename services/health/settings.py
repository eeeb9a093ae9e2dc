"""Health service settings, built once at the entry point (never at import).

Environment: ``HPO_HEALTH_WEIGHTS`` as JSON (``{"convergence": 0.4, ...}``) or one weight at a time,
``HPO_HEALTH_WEIGHTS__CONVERGENCE=0.4``; ``HPO_HEALTH_MAX_TRACKED_TRIALS``.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.health.overall import HealthWeights
from services.health.state import DEFAULT_MAX_TRIALS


class HealthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HPO_HEALTH_", env_nested_delimiter="__", extra="ignore")

    weights: HealthWeights = Field(
        default_factory=HealthWeights, description="Weight of each component in overall_health."
    )
    max_tracked_trials: int = Field(
        default=DEFAULT_MAX_TRIALS, ge=1, description="Running trials kept in memory at once (oldest dropped)."
    )

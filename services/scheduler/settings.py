"""Scheduler settings, built once at the entry point."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.scheduler.bounded_history import DEFAULT_SAMPLER_HISTORY, MIN_SAMPLER_HISTORY


class SchedulerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HPO_SCHEDULER_", extra="ignore")

    optuna_storage: SecretStr = Field(
        default=SecretStr("sqlite:///optimization_results/.hpo/optuna.sqlite"),
        description="Optuna storage URL (may be the read models' database, HPO_DATABASE_URL).",
    )
    lease_seconds: float = Field(
        default=12.0,
        gt=0,
        description="A running trial whose trainer sent no heartbeat, epoch or other event this long is failed "
        "and retried elsewhere (trainers beat every HPO_TRAINER_HEARTBEAT_SECONDS, 3 s, from outside the "
        "training thread, so a long epoch is not silence).",
    )
    lease_check_seconds: float = Field(default=1.0, gt=0, description="How often leases are checked.")
    resume_unfinished: bool = Field(
        default=True, description="On start, take up every study that storage says is still running."
    )
    queue_ahead: float = Field(
        default=0.25,
        ge=0,
        description=(
            "Trials requested beyond the study's parallelism, per parallel slot (rounded down): with parallelism 8,"
            " 2 trials wait in the work queue, so a trainer that finishes starts its next trial at once instead of"
            " waiting for the sampler. 0 asks only when a slot frees (what a single in-process trainer wants)."
        ),
    )
    sampler_history: int = Field(
        default=DEFAULT_SAMPLER_HISTORY,
        ge=0,
        description="Finished trials TPE, CMA-ES and GP learn from at most (the best 25 and the latest):"
        f" keeps an ask in milliseconds on a 10,000-trial study. 0: all of them; otherwise at least"
        f" {MIN_SAMPLER_HISTORY}.",
    )
    max_trial_factor: int = Field(
        default=3, ge=1, description="Give up after trials x this many attempts (all failing)."
    )

    @field_validator("sampler_history")
    @classmethod
    def _history_holds_tpe_good_group(cls, value: int) -> int:
        if 0 < value < MIN_SAMPLER_HISTORY:
            raise ValueError(
                f"must be 0 (learn from every trial) or at least {MIN_SAMPLER_HISTORY}, not {value}: a shorter"
                " history holds fewer best trials than TPE's own good group, and the search keeps exploring"
                f" late in the study; set HPO_SCHEDULER_SAMPLER_HISTORY=0 or >= {MIN_SAMPLER_HISTORY}"
            )
        return value

    @property
    def storage_url(self) -> str:
        return self.optuna_storage.get_secret_value()

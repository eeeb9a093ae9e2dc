"""The embedded run's trainer settings, and its first trial process started before anything heavy is loaded.

The trial process imports TensorFlow (seconds); started here, right after the options are read, it
does so while this process checks the dataset and imports the other services.
"""

from __future__ import annotations

from pathlib import Path

from contracts.study import StudyConfig
from services.runtime.artifacts.local import LocalArtifactStore
from services.trainer.isolation import ProcessTrialRunner
from services.trainer.settings import TrainerSettings


def state_dir(output_dir: Path) -> Path:
    return output_dir.resolve() / ".hpo"


def embedded_trainer_settings(config: StudyConfig, output_dir: Path) -> TrainerSettings:
    return TrainerSettings(
        trainer_id="embedded-trainer",
        work_dir=state_dir(output_dir) / "work",
        data_dir=Path(config.data_dir) if config.data_dir else None,
        allow_absolute_data_dir=True,  # the user at this terminal named it
    )


def start_trial_process(config: StudyConfig, output_dir: Path, *, resumed: bool = False) -> ProcessTrialRunner | None:
    """The embedded trainer's runner with its first child starting (None when trials run in this process). A
    new study's runner knows how many trials come (``config.trials``) and starts no spare for the last one; a
    resumed study's does not count the trials finished before."""
    settings = embedded_trainer_settings(config, output_dir)
    if settings.mode != "keras" or not settings.isolate_trials:
        return None
    artifacts = LocalArtifactStore(state_dir(output_dir) / "artifacts")
    runner = ProcessTrialRunner(settings, artifacts, planned_trials=None if resumed else config.trials)
    runner.prestart()
    return runner

"""The embedded run's trainer settings, and its first trial process, started before anything heavy is loaded.

The trial process imports TensorFlow (seconds). ``start_first_trial_child`` starts it as the very first thing
``hpo optimize`` does, from the command line alone, before the options are parsed and the other services
imported; ``start_trial_process`` then gives it its settings (or stops it when the study does not want it:
a remote or RunPod study, trials in this process, an option refused). This module imports only the light
``child_entry`` until a study is set up.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from services.trainer.child_entry import spawn_trial_child

if TYPE_CHECKING:
    from contracts.study import StudyConfig
    from services.trainer.isolation import ProcessTrialRunner
    from services.trainer.settings import TrainerSettings
    from services.trainer.warm_child import TrialChild

EMBEDDED_TRAINER_ID = "embedded-trainer"
_NOT_EMBEDDED_FLAGS = frozenset({"-h", "--help", "--url", "--interactive"})
_FALSE_WORDS = frozenset({"0", "false", "f", "no", "n", "off"})  # what the settings read as false


class FirstTrialChild:
    """The trial child started from the command line, until a runner takes it; ``discard`` stops one that no
    runner took (the command failed or did not need it)."""

    def __init__(self, child: TrialChild | None) -> None:
        self._child = child

    def take(self) -> TrialChild | None:
        child, self._child = self._child, None
        return child

    def discard(self) -> None:
        child = self.take()
        if child is not None:
            child.kill()


def start_first_trial_child(argv: list[str]) -> FirstTrialChild:
    """Start the embedded trainer's first trial child now when ``argv`` (the command line without the program)
    asks for an embedded study whose trials train in child processes, as far as the command line and the
    environment say before anything is parsed; a wrong guess costs only a child stopped early."""
    words = [word for word in argv if word not in ("-v", "--verbose")]
    wanted = (
        bool(words)
        and words[0] == "optimize"
        and not any(word.split("=", 1)[0] in _NOT_EMBEDDED_FLAGS for word in words[1:])
        and not any(word.replace(" ", "").lower() == "trainer=runpod" for word in words[1:])
        and not os.environ.get("HPO_API_URL")
        and os.environ.get("HPO_TRAINER_MODE", "keras").strip().lower() == "keras"
        and os.environ.get("HPO_TRAINER_ISOLATE_TRIALS", "true").strip().lower() not in _FALSE_WORDS
    )
    return FirstTrialChild(spawn_trial_child(EMBEDDED_TRAINER_ID) if wanted else None)


def state_dir(output_dir: Path) -> Path:
    return output_dir.resolve() / ".hpo"


def embedded_trainer_settings(config: StudyConfig, output_dir: Path) -> TrainerSettings:
    from services.trainer.settings import TrainerSettings

    return TrainerSettings(
        trainer_id=EMBEDDED_TRAINER_ID,
        work_dir=state_dir(output_dir) / "work",
        data_dir=Path(config.data_dir) if config.data_dir else None,
        allow_absolute_data_dir=True,  # the user at this terminal named it
    )


def start_trial_process(
    config: StudyConfig, output_dir: Path, *, resumed: bool = False, first_child: FirstTrialChild | None = None
) -> ProcessTrialRunner | None:
    """The embedded trainer's runner with its first child starting, ``first_child``'s if one was started (None
    when trials run in this process: then that child is stopped). A new study's runner knows how many trials
    come (``config.trials``) and starts no spare for the last one; a resumed study's does not count the trials
    finished before."""
    from services.runtime.artifacts.local import LocalArtifactStore
    from services.trainer.isolation import ProcessTrialRunner

    early = first_child.take() if first_child is not None else None
    settings = embedded_trainer_settings(config, output_dir)
    if settings.mode != "keras" or not settings.isolate_trials:
        if early is not None:
            early.kill()
        return None
    artifacts = LocalArtifactStore(state_dir(output_dir) / "artifacts")
    runner = ProcessTrialRunner(settings, artifacts, planned_trials=None if resumed else config.trials)
    runner.prestart(early)
    return runner

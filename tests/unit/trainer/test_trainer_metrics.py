"""A served trainer exports what the training-live dashboard shows, for the study it trains now only."""

from __future__ import annotations

import shutil
from pathlib import Path

from prometheus_client import CollectorRegistry

from contracts.enums import DatasetName, Mode, Objective
from contracts.events import Event, TrialCompleted, TrialRequested, TrialRequestedData
from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.bus.memory import InMemoryBus
from services.runtime.observability.training import TrainingMetrics
from services.trainer import bootstrap
from services.trainer.settings import TrainerSettings
from tests.support.bus import collect_events
from tests.support.waiting import eventually


def _request(study: str, trial: str, number: int) -> TrialRequested:
    data = TrialRequestedData(
        trial_number=number,
        params={"learning_rate": 0.01},
        dataset=DatasetName.DIGITS,
        max_epochs=3,
        objective=Objective.VAL_ACCURACY,
        mode=Mode.SIMPLE,
    )
    return TrialRequested(source="test", study_id=study, trial_id=trial, data=data)


async def test_a_trial_leaves_its_epoch_losses_and_layers_and_the_next_study_replaces_them(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    bus = InMemoryBus()
    settings = TrainerSettings(trainer_id="tr-1", mode="synthetic", synthetic_seconds=0.06)
    service = await bootstrap.start(
        bus, LocalArtifactStore(tmp_path), settings, metrics=TrainingMetrics("tr-1", registry)
    )
    seen: list[Event] = await collect_events(bus, "observer", ["trial.completed"], prefetch=10)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    try:
        await bus.publish(_request("s1", "t1", 4))
        await eventually(lambda: any(isinstance(e, TrialCompleted) for e in seen), "the first trial", timeout=20)
        assert value("hpo_trainer_busy", trainer="tr-1") == 0
        assert value("hpo_trial_number", study="s1", trainer="tr-1") == 4
        assert value("hpo_trial_epoch", study="s1", trainer="tr-1") == 3
        assert value("hpo_trial_max_epochs", study="s1", trainer="tr-1") == 3
        assert value("hpo_trial_loss", study="s1", trainer="tr-1", split="train") == 0.5
        assert value("hpo_trial_loss", study="s1", trainer="tr-1", split="validation") == 0.55
        assert value("hpo_trial_accuracy", study="s1", trainer="tr-1", split="validation") is not None
        assert value("hpo_layer_gradient_norm", study="s1", trainer="tr-1", layer="dense") == 0.5
        assert value("hpo_epoch_seconds_count", trainer="tr-1") == 3
        if shutil.which("nvidia-smi") is None:  # a CPU machine: no GPU series, and no error either
            assert not [m for m in registry.collect() if m.name.startswith("hpo_trainer_gpu")]

        await bus.publish(_request("s2", "t2", 0))
        await eventually(lambda: len(seen) == 2, "the second trial", timeout=20)
    finally:
        await service.stop()
        await bus.close()
    assert value("hpo_trial_epoch", study="s1", trainer="tr-1") is None  # the previous study's series are gone
    assert value("hpo_layer_gradient_norm", study="s1", trainer="tr-1", layer="dense") is None
    assert value("hpo_trial_epoch", study="s2", trainer="tr-1") == 3

"""Wires a trainer: the shared ``trainer.work`` queue (one trial at a time) and its own control feed."""

from __future__ import annotations

from services.runtime.artifacts.port import ArtifactStore
from services.runtime.bus.port import Bus
from services.runtime.service import RunningService
from services.trainer.dataset_cache import DatasetCache, shared_cache
from services.trainer.handlers import TrainerWorker
from services.trainer.outcome import TrialRunner
from services.trainer.settings import TrainerSettings

WORK_QUEUE = "trainer.work"


def make_runner(settings: TrainerSettings, artifacts: ArtifactStore, cache: DatasetCache) -> TrialRunner:
    if settings.mode == "synthetic":
        from services.trainer.synthetic import SyntheticTrialRunner

        return SyntheticTrialRunner(settings)
    from services.trainer.training import KerasTrialRunner  # imports TensorFlow

    return KerasTrialRunner(settings, artifacts, cache)


async def start(
    bus: Bus, artifacts: ArtifactStore, settings: TrainerSettings, cache: DatasetCache | None = None
) -> RunningService:
    worker = TrainerWorker(bus, make_runner(settings, artifacts, cache or shared_cache()), settings)
    control = await bus.subscribe(
        f"trainer.control.{settings.trainer_id}", ["trial.control"], worker.on_control, prefetch=100, exclusive=True
    )
    work = await bus.subscribe(WORK_QUEUE, ["trial.requested"], worker.on_request, prefetch=1)
    return RunningService(name=f"trainer {settings.trainer_id}", subscriptions=[work, control])

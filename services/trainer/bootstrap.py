"""Wires a trainer: the shared ``trainer.work`` queue (one trial at a time) and its own control feed."""

from __future__ import annotations

import asyncio

from contracts.topology import TRAINER_WORK_QUEUE
from services.runtime.artifacts.port import ArtifactStore
from services.runtime.bus.port import Bus
from services.runtime.observability.training import TrainingMetrics
from services.runtime.service import RunningService
from services.trainer.dataset_cache import DatasetCache, shared_cache
from services.trainer.gpu import GpuCollector
from services.trainer.handlers import TrainerDeps, control_handlers, hand_back, work_handlers
from services.trainer.idle import exit_when_idle
from services.trainer.outcome import TrialRunner
from services.trainer.settings import TrainerSettings


def make_runner(settings: TrainerSettings, artifacts: ArtifactStore, cache: DatasetCache) -> TrialRunner:
    """Synthetic (no TensorFlow), Keras in a recycled child process (the default, its first child started
    now), or Keras in this process."""
    if settings.mode == "synthetic":
        from services.trainer.synthetic import SyntheticTrialRunner

        return SyntheticTrialRunner(settings)
    if settings.isolate_trials:
        from services.trainer.isolation import ProcessTrialRunner

        runner = ProcessTrialRunner(settings, artifacts)
        runner.prestart()  # the first child imports TensorFlow while the rest starts up
        return runner
    from services.trainer.training import KerasTrialRunner  # imports TensorFlow

    return KerasTrialRunner(settings, artifacts, cache)


def control_queue(trainer_id: str) -> str:
    """The exclusive queue carrying ``trial.control`` to one trainer."""
    return f"trainer.control.{trainer_id}"


async def start(
    bus: Bus,
    artifacts: ArtifactStore,
    settings: TrainerSettings,
    cache: DatasetCache | None = None,
    metrics: TrainingMetrics | None = None,
    runner: TrialRunner | None = None,
    *,
    hand_back_on_stop: bool = False,
) -> RunningService:
    """``metrics``: the registry a served trainer exports (GPU readings included, when it has a GPU);
    ``runner``: one made (and started) ahead, else ``make_runner``'s; ``hand_back_on_stop``: a served
    trainer, when stopped, ends its running trial at once and hands it back (``handlers.hand_back``) instead
    of finishing it (an embedded study's trainer finishes it: its study is stopping too)."""
    runner = runner or make_runner(settings, artifacts, cache or shared_cache())
    gpus = GpuCollector(settings.trainer_id)
    if metrics is not None:
        metrics.registry.register(gpus)
        await asyncio.to_thread(gpus.start)
    deps = TrainerDeps(
        publish=bus.publish, runner=runner, settings=settings, metrics=metrics or TrainingMetrics(settings.trainer_id)
    )
    control = await bus.subscribe(
        control_queue(settings.trainer_id),
        control_handlers.routing_keys(),
        control_handlers.bind(deps),
        prefetch=100,
        exclusive=True,
    )
    work = await bus.subscribe(TRAINER_WORK_QUEUE, work_handlers.routing_keys(), work_handlers.bind(deps), prefetch=1)

    async def close_runner() -> None:
        await asyncio.to_thread(runner.close)
        await asyncio.to_thread(gpus.stop)

    service = RunningService(
        name=f"trainer {settings.trainer_id}", subscriptions=[work, control], closers=[close_runner]
    )
    if hand_back_on_stop:

        async def announce_stop() -> None:
            hand_back(deps)

        service.stopping.append(announce_stop)
    if settings.idle_exit_seconds > 0:
        watch = exit_when_idle(deps.activity, settings.idle_exit_seconds, service.done)
        service.background.append(asyncio.create_task(watch, name="idle-exit"))
    return service

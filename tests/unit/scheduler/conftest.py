"""A scripted trainer for scheduler tests: answers trial.requested the way a real trainer would,
with outcomes chosen per trial by the test."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from contracts.events import (
    Event,
    TrialCompleted,
    TrialCompletedData,
    TrialEpochCompleted,
    TrialEpochCompletedData,
    TrialFailed,
    TrialFailedData,
    TrialPruned,
    TrialPrunedData,
    TrialRequested,
    TrialStarted,
    TrialStartedData,
)
from contracts.telemetry import EpochTelemetry, TrialMetrics
from services.runtime.bus.memory import InMemoryBus
from services.scheduler.settings import SchedulerSettings

# What the scripted trainer does with a trial: ("complete", val_acc), ("fail", reason), ("silent", None)
Script = Callable[[TrialRequested], tuple[str, object]]


@dataclass
class ScriptedTrainer:
    bus: InMemoryBus
    script: Script
    requests: list[TrialRequested] = field(default_factory=list)
    controls: list[Event] = field(default_factory=list)

    async def on_request(self, event: Event) -> None:
        assert isinstance(event, TrialRequested)
        self.requests.append(event)
        kind, value = self.script(event)
        ids = {"study_id": event.study_id, "trial_id": event.trial_id, "source": "trainer"}
        await self.bus.publish(
            TrialStarted(**ids, data=TrialStartedData(trainer_id="t1", trial_number=event.data.trial_number))
        )
        if kind == "silent":
            return
        if kind == "fail":
            await self.bus.publish(
                TrialFailed(**ids, data=TrialFailedData(trial_number=event.data.trial_number, reason=str(value)))
            )
            return
        val_acc = float(value)  # type: ignore[arg-type]
        for epoch in range(1, event.data.max_epochs + 1):
            if self._prune_requested(event.trial_id):
                await self.bus.publish(
                    TrialPruned(
                        **ids,
                        data=TrialPrunedData(trainer_id="t1", trial_number=event.data.trial_number, epoch=epoch - 1),
                    )
                )
                return
            tele = EpochTelemetry(
                epoch=epoch,
                loss=1.0 / epoch,
                accuracy=val_acc,
                val_loss=1.0 / epoch,
                val_accuracy=val_acc * epoch / event.data.max_epochs,
            )
            await self.bus.publish(
                TrialEpochCompleted(
                    **ids,
                    data=TrialEpochCompletedData(
                        trainer_id="t1",
                        trial_number=event.data.trial_number,
                        max_epochs=event.data.max_epochs,
                        telemetry=tele,
                    ),
                )
            )
            await asyncio.sleep(0.05)  # let the scheduler see the epoch before the next one
        metrics = TrialMetrics(
            val_accuracy=val_acc,
            accuracy=val_acc,
            training_seconds=1.0,
            parameter_count=1000,
            memory_mb=1.0,
            epochs_trained=event.data.max_epochs,
        )
        await self.bus.publish(
            TrialCompleted(
                **ids, data=TrialCompletedData(trainer_id="t1", trial_number=event.data.trial_number, metrics=metrics)
            )
        )

    async def on_control(self, event: Event) -> None:
        self.controls.append(event)

    def _prune_requested(self, trial_id: str | None) -> bool:
        return any(c.trial_id == trial_id and c.data.action == "prune" for c in self.controls)  # type: ignore[union-attr]


@pytest.fixture
def scheduler_settings(tmp_path: Path) -> SchedulerSettings:
    return SchedulerSettings(
        optuna_storage=f"sqlite:///{tmp_path / 'optuna.sqlite'}", lease_seconds=0.5, lease_check_seconds=0.05
    )


async def collect(bus: InMemoryBus, queue: str, bindings: list[str]) -> list[Event]:
    seen: list[Event] = []

    async def record(event: Event) -> None:
        seen.append(event)

    await bus.subscribe(queue, bindings, record, prefetch=100)
    return seen


async def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


@dataclass
class Harness:
    bus: InMemoryBus
    settings: SchedulerSettings

    async def trainer(self, script: Script) -> ScriptedTrainer:
        trainer = ScriptedTrainer(self.bus, script)
        await self.bus.subscribe("trainer.work", ["trial.requested"], trainer.on_request, prefetch=8)
        await self.bus.subscribe(
            "trainer.control.t1", ["trial.control"], trainer.on_control, prefetch=100, exclusive=True
        )
        return trainer

    async def collect(self, bindings: list[str]) -> list[Event]:
        return await collect(self.bus, "test.observer", bindings)

    wait_for = staticmethod(wait_for)


@pytest.fixture
async def harness(scheduler_settings: SchedulerSettings):  # type: ignore[no-untyped-def]
    from services.scheduler import bootstrap

    bus = InMemoryBus()
    service = await bootstrap.start(bus, scheduler_settings)
    yield Harness(bus, scheduler_settings)
    await service.stop()
    await bus.close()

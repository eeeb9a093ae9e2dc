"""A scripted trainer for scheduler tests: answers trial.requested the way a real trainer would,
with outcomes chosen per trial by the test; the harness wires it to a running scheduler's bus."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from contracts.enums import ControlAction
from contracts.events import (
    Event,
    TrialControl,
    TrialFailed,
    TrialFailedData,
    TrialPruned,
    TrialPrunedData,
    TrialRequested,
)
from services.runtime.bus.memory import InMemoryBus
from services.scheduler.settings import SchedulerSettings
from tests.support.bus import collect_events
from tests.support.events import epoch_completed, trial_completed, trial_started
from tests.support.telemetry import epoch_telemetry, trial_metrics

# What the scripted trainer does with a trial: ("complete", val_acc), ("fail", reason), ("silent", None)
Script = Callable[[TrialRequested], tuple[str, float | str | None]]


@dataclass
class ScriptedTrainer:
    bus: InMemoryBus
    script: Script
    requests: list[TrialRequested] = field(default_factory=list)
    controls: list[TrialControl] = field(default_factory=list)

    async def on_request(self, event: Event) -> None:
        assert isinstance(event, TrialRequested) and event.trial_id is not None
        self.requests.append(event)
        kind, value = self.script(event)
        study_id, trial_id, number = event.study_id, event.trial_id, event.data.trial_number
        ids = {"study_id": study_id, "trial_id": trial_id, "source": "trainer"}
        await self.bus.publish(trial_started(study_id, trial_id, trial_number=number, source="trainer"))
        if kind == "silent":
            return
        if kind == "fail":
            await self.bus.publish(TrialFailed(**ids, data=TrialFailedData(trial_number=number, reason=str(value))))
            return
        assert isinstance(value, int | float)
        val_acc = float(value)
        max_epochs = event.data.max_epochs
        for epoch in range(1, max_epochs + 1):
            if self._prune_requested(trial_id):
                await self.bus.publish(
                    TrialPruned(**ids, data=TrialPrunedData(trainer_id="t1", trial_number=number, epoch=epoch - 1))
                )
                return
            tele = epoch_telemetry(
                epoch,
                loss=1.0 / epoch,
                accuracy=val_acc,
                val_loss=1.0 / epoch,
                val_accuracy=val_acc * epoch / max_epochs,
            )
            await self.bus.publish(
                epoch_completed(study_id, trial_id, tele, trial_number=number, max_epochs=max_epochs, source="trainer")
            )
            await asyncio.sleep(0.05)  # let the scheduler see the epoch before the next one
        metrics = trial_metrics(val_acc, parameter_count=1000, memory_mb=1.0, epochs_trained=max_epochs)
        await self.bus.publish(trial_completed(study_id, trial_id, metrics, trial_number=number, source="trainer"))

    async def on_control(self, event: Event) -> None:
        assert isinstance(event, TrialControl)
        self.controls.append(event)

    def _prune_requested(self, trial_id: str) -> bool:
        return any(c.trial_id == trial_id and c.data.action == ControlAction.PRUNE for c in self.controls)


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
        return await collect_events(self.bus, "test.observer", bindings, prefetch=100)

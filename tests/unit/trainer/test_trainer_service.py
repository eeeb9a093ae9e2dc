"""The trainer as a service on the in-process bus: real Keras trials on digits, end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from contracts.enums import ControlAction, DatasetName, Mode, Objective
from contracts.events import (
    ArtifactStored,
    Event,
    EventEnvelope,
    TrialCompleted,
    TrialControl,
    TrialControlData,
    TrialEpochCompleted,
    TrialFailed,
    TrialHeartbeat,
    TrialPruned,
    TrialRequested,
    TrialRequestedData,
    TrialStarted,
)
from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.bus.memory import InMemoryBus
from services.trainer import bootstrap
from services.trainer.dataset_cache import DatasetCache
from services.trainer.settings import TrainerSettings
from tests.support.bus import collect_events
from tests.support.waiting import eventually

_E = TypeVar("_E", bound=EventEnvelope)

SMALL_CNN: dict[str, object] = {
    "conv_blocks": 1,
    "filters": 8,
    "dense_units": 16,
    "batch_size": 64,
    "learning_rate": 0.005,
}


@dataclass
class Rig:
    bus: InMemoryBus
    store: LocalArtifactStore
    seen: list[Event] = field(default_factory=list)
    prune_on_epoch: int | None = None

    async def request(self, trial_id: str, *, params: Mapping[str, object], max_epochs: int = 2) -> None:
        data = TrialRequestedData(
            trial_number=int(trial_id[-1]),
            params=dict(params),
            dataset=DatasetName.DIGITS,
            max_samples=300,
            max_epochs=max_epochs,
            seed=7,
            objective=Objective.VAL_ACCURACY,
            mode=Mode.HEALTH,
        )
        await self.bus.publish(TrialRequested(source="test", study_id="s1", trial_id=trial_id, data=data))

    async def ended(self, trial_id: str) -> TrialCompleted | TrialPruned | TrialFailed:
        await eventually(lambda: bool(self._ends(trial_id)), f"the end of {trial_id}", timeout=120)
        return self._ends(trial_id)[0]

    def _ends(self, trial_id: str) -> list[TrialCompleted | TrialPruned | TrialFailed]:
        return [
            e for e in self.seen if e.trial_id == trial_id and isinstance(e, TrialCompleted | TrialPruned | TrialFailed)
        ]

    def of(self, trial_id: str, kind: type[_E]) -> list[_E]:
        return [e for e in self.seen if isinstance(e, kind) and e.trial_id == trial_id]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    bus = InMemoryBus()
    store = LocalArtifactStore(tmp_path / "artifacts")
    rig = Rig(bus, store)

    async def observe(event: Event) -> None:
        rig.seen.append(event)
        if (
            isinstance(event, TrialEpochCompleted)
            and rig.prune_on_epoch == event.data.telemetry.epoch
            and event.trial_id is not None
        ):
            control = TrialControlData(action=ControlAction.PRUNE, reason="below the median")
            await bus.publish(TrialControl(source="test", study_id="s1", trial_id=event.trial_id, data=control))

    await bus.subscribe("observer", ["#"], observe, prefetch=1000)
    settings = TrainerSettings(trainer_id="t-test", work_dir=tmp_path / "work", heartbeat_seconds=0.2)
    service = await bootstrap.start(bus, store, settings, DatasetCache())
    yield rig
    await service.stop()
    await bus.close()


async def test_a_trial_reports_every_epoch_then_stores_its_model(rig: Rig) -> None:
    await rig.request("trial-1", params=SMALL_CNN, max_epochs=2)
    end = await rig.ended("trial-1")
    assert isinstance(end, TrialCompleted), end
    started = rig.of("trial-1", TrialStarted)
    assert started and started[0].data.parameter_count > 0 and "Conv2D(8)" in started[0].data.architecture
    epochs = rig.of("trial-1", TrialEpochCompleted)
    assert [e.data.telemetry.epoch for e in epochs] == [1, 2]
    layers = {layer.name for layer in epochs[0].data.telemetry.layers}
    assert {"conv1", "conv1_act", "dense", "classifier"} <= layers
    assert end.data.metrics.epochs_trained == 2 and 0 <= end.data.metrics.val_accuracy <= 1
    assert end.data.metrics.test_accuracy is not None
    assert end.data.model_key is not None and rig.store.exists(end.data.model_key)
    assert end.data.model_key.startswith("studies/s1/trials/0001-trial-1/")
    stored = rig.of("trial-1", ArtifactStored)
    assert stored and stored[0].data.size_bytes > 1000
    assert rig.seen.index(stored[0]) < rig.seen.index(end)


async def test_a_prune_request_ends_the_trial_at_the_next_epoch_boundary(rig: Rig) -> None:
    rig.prune_on_epoch = 1  # epochs are published without waiting: small batches keep each epoch long enough
    await rig.request("trial-2", params={**SMALL_CNN, "batch_size": 8}, max_epochs=20)
    end = await rig.ended("trial-2")
    assert isinstance(end, TrialPruned), end
    assert end.data.epoch < 20 and end.data.reason == "below the median"
    assert not rig.store.list_keys("studies/s1/trials/0002")


async def test_a_bad_parameter_fails_the_trial_with_its_reason(rig: Rig) -> None:
    await rig.request("trial-3", params={**SMALL_CNN, "optimizer": "lbfgs"})
    end = await rig.ended("trial-3")
    assert isinstance(end, TrialFailed) and "optimizer" in end.data.reason
    # the trainer keeps serving
    await rig.request("trial-4", params=SMALL_CNN, max_epochs=1)
    assert isinstance(await rig.ended("trial-4"), TrialCompleted)


async def test_heartbeats_flow_while_a_trial_trains(rig: Rig) -> None:
    await rig.request("trial-5", params={**SMALL_CNN, "batch_size": 8}, max_epochs=3)
    await rig.ended("trial-5")
    beats = rig.of("trial-5", TrialHeartbeat)
    assert beats and all(b.data.trainer_id == "t-test" for b in beats)


async def test_a_trial_stopped_while_queued_is_reported_failed_without_training(rig: Rig) -> None:
    stop = TrialControlData(action=ControlAction.STOP, reason="study stopped by the user")
    await rig.bus.publish(TrialControl(source="test", study_id="s1", trial_id="trial-6", data=stop))
    await rig.bus.wait_idle()
    await rig.request("trial-6", params=SMALL_CNN)
    end = await rig.ended("trial-6")
    assert isinstance(end, TrialFailed) and end.data.reason == "cancelled before it started: study stopped by the user"
    assert not rig.of("trial-6", TrialStarted)


async def test_a_trainer_fault_is_reported_as_a_failed_trial_not_redelivered(tmp_path: Path) -> None:
    from services.trainer.handlers import TrainerDeps, work_handlers
    from services.trainer.outcome import TrialHooks, TrialJob, TrialOutcome

    class BrokenRunner:
        calls = 0

        def run(self, job: TrialJob, hooks: TrialHooks) -> TrialOutcome:
            BrokenRunner.calls += 1
            raise TypeError("cannot pickle '_thread.lock' object")

        def close(self) -> None:
            """Nothing to release."""

    bus = InMemoryBus()
    seen = await collect_events(bus, "observer", ["trial.failed"], prefetch=10)
    settings = TrainerSettings(trainer_id="t-broken", work_dir=tmp_path)
    deps = TrainerDeps(publish=bus.publish, runner=BrokenRunner(), settings=settings)
    await bus.subscribe("trainer.work", work_handlers.routing_keys(), work_handlers.bind(deps))
    rig = Rig(bus, LocalArtifactStore(tmp_path / "a"))
    await rig.request("trial-7", params=SMALL_CNN)
    await bus.wait_idle()
    await bus.close()
    (failed,) = seen
    assert isinstance(failed, TrialFailed) and "t-broken could not run the trial: TypeError" in failed.data.reason
    assert BrokenRunner.calls == 1 and await bus.dead_letters("trainer.work") == []


async def test_a_served_trainer_stopped_mid_trial_hands_it_back_without_testing_or_saving_it(tmp_path: Path) -> None:
    bus = InMemoryBus()
    store = LocalArtifactStore(tmp_path / "artifacts")
    rig = Rig(bus, store)

    async def observe(event: Event) -> None:
        rig.seen.append(event)

    await bus.subscribe("observer", ["#"], observe, prefetch=1000)
    settings = TrainerSettings(trainer_id="t-back", work_dir=tmp_path / "work", heartbeat_seconds=0.2)
    service = await bootstrap.start(bus, store, settings, DatasetCache(), hand_back_on_stop=True)
    try:
        await rig.request("trial-5", params={**SMALL_CNN, "batch_size": 8}, max_epochs=20)
        await eventually(lambda: bool(rig.of("trial-5", TrialEpochCompleted)), "a first epoch", timeout=120)
    finally:
        await service.stop()  # what SIGTERM does to `hpo serve trainer`
        await bus.wait_idle()
        await bus.close()
    (end,) = rig._ends("trial-5")
    assert isinstance(end, TrialFailed) and end.data.handed_back and end.data.trainer_id == "t-back"
    epochs = [e.data.telemetry.epoch for e in rig.of("trial-5", TrialEpochCompleted)]
    assert end.data.epochs_trained == max(epochs) < 20 and "handed back" in end.data.reason
    assert not store.list_keys("studies/s1/trials/0005"), "a handed-back attempt stores no model"

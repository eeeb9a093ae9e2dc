"""The trainer service (synthetic trials, no TensorFlow) obeying superseded controls and verdicts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from contracts.enums import ControlAction, DatasetName, Mode, Objective
from contracts.events import (
    Event,
    TrialCompleted,
    TrialControl,
    TrialControlData,
    TrialEpochCompleted,
    TrialFailed,
    TrialPruned,
    TrialRequested,
    TrialRequestedData,
)
from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.bus.memory import InMemoryBus
from services.trainer import bootstrap
from services.trainer.settings import TrainerSettings
from tests.support.bus import collect_events
from tests.support.waiting import eventually

ENDS = (TrialCompleted, TrialPruned, TrialFailed)


def _request(trial_id: str, *, max_epochs: int, await_verdicts: bool) -> TrialRequested:
    data = TrialRequestedData(
        trial_number=0,
        params={"learning_rate": 0.01},
        dataset=DatasetName.DIGITS,
        max_epochs=max_epochs,
        objective=Objective.VAL_ACCURACY,
        mode=Mode.SIMPLE,
        await_verdicts=await_verdicts,
    )
    return TrialRequested(source="scheduler", study_id="s1", trial_id=trial_id, data=data)


def _control(trial_id: str, action: ControlAction, epoch: int | None = None) -> TrialControl:
    return TrialControl(
        source="scheduler", study_id="s1", trial_id=trial_id, data=TrialControlData(action=action, epoch=epoch)
    )


async def _trainer(tmp_path: Path, *, seconds: float, verdict_timeout: float = 2.0) -> tuple[InMemoryBus, list[Event]]:
    bus = InMemoryBus()
    settings = TrainerSettings(
        trainer_id="t-fence",
        mode="synthetic",
        synthetic_seconds=seconds,
        work_dir=tmp_path,
        verdict_timeout_seconds=verdict_timeout,
    )
    await bootstrap.start(bus, LocalArtifactStore(tmp_path / "a"), settings)
    return bus, await collect_events(bus, "observer", ["trial.*"], prefetch=100)


async def test_a_superseded_attempt_stops_and_publishes_no_result(tmp_path: Path) -> None:
    bus, seen = await _trainer(tmp_path, seconds=2.0)
    await bus.publish(_request("t-old", max_epochs=10, await_verdicts=False))
    await eventually(lambda: any(isinstance(e, TrialEpochCompleted) for e in seen), "a first epoch")
    await bus.publish(_control("t-old", ControlAction.SUPERSEDED))
    await asyncio.sleep(1.0)
    await bus.wait_idle()
    epochs = [e for e in seen if isinstance(e, TrialEpochCompleted)]
    assert [e for e in seen if isinstance(e, ENDS)] == [], "no completed, pruned or failed for a superseded attempt"
    assert len(epochs) < 10, "it stopped at once"
    await bus.close()


async def test_a_pruned_trial_never_trains_past_the_judged_epoch(tmp_path: Path) -> None:
    """The verdict on epoch 2 arrives 0.3 s after the epoch, while epochs take 0.05 s: the trainer waits."""
    bus, seen = await _trainer(tmp_path, seconds=0.5)

    async def scheduler(event: Event) -> None:
        if isinstance(event, TrialEpochCompleted) and event.trial_id:
            await asyncio.sleep(0.3)
            epoch = event.data.telemetry.epoch
            action = ControlAction.PRUNE if epoch == 2 else ControlAction.CONTINUE
            await bus.publish(_control(event.trial_id, action, epoch))

    await bus.subscribe("slow-scheduler", ["trial.epoch_completed"], scheduler, prefetch=10)
    await bus.publish(_request("t-judged", max_epochs=10, await_verdicts=True))
    await eventually(lambda: any(isinstance(e, ENDS) for e in seen), "the trial to end", timeout=30)
    (end,) = [e for e in seen if isinstance(e, ENDS)]
    assert isinstance(end, TrialPruned) and end.data.epoch == 2
    assert max(e.data.telemetry.epoch for e in seen if isinstance(e, TrialEpochCompleted)) == 2
    await bus.close()


async def test_without_verdicts_a_late_prune_lands_epochs_later(tmp_path: Path) -> None:
    """The same slow verdict without waiting: the trial trains on (what the wait prevents)."""
    bus, seen = await _trainer(tmp_path, seconds=0.5)

    async def scheduler(event: Event) -> None:
        if isinstance(event, TrialEpochCompleted) and event.trial_id and event.data.telemetry.epoch == 2:
            await asyncio.sleep(0.3)
            await bus.publish(_control(event.trial_id, ControlAction.PRUNE, 2))

    await bus.subscribe("slow-scheduler", ["trial.epoch_completed"], scheduler, prefetch=10)
    await bus.publish(_request("t-late", max_epochs=10, await_verdicts=False))
    await eventually(lambda: any(isinstance(e, ENDS) for e in seen), "the trial to end", timeout=30)
    (end,) = [e for e in seen if isinstance(e, ENDS)]
    assert isinstance(end, TrialPruned) and end.data.epoch > 2
    await bus.close()

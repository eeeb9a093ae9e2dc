"""The warm spare child: ready before the current child retires, a trial sent to it as it died sent on to a
fresh child, stopped at shutdown, and never a cause for a trial to run twice."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from pathlib import Path

import psutil

from contracts.enums import DatasetName, Mode, Objective
from contracts.events import TrialRequestedData
from contracts.telemetry import EpochTelemetry
from services.runtime.artifacts.local import LocalArtifactStore
from services.trainer.isolation import ProcessTrialRunner
from services.trainer.outcome import OutcomeKind, TrialHooks, TrialJob
from services.trainer.settings import TrainerSettings
from tests.support.waiting import eventually

PARAMS = {"conv_blocks": 1, "filters": 8, "dense_units": 16, "batch_size": 16}
WARM_TIMEOUT = 120.0  # a child imports TensorFlow: seconds on two busy cores


def _job(number: int, max_epochs: int) -> TrialJob:
    request = TrialRequestedData(
        trial_number=number,
        params=PARAMS,
        dataset=DatasetName.DIGITS,
        max_samples=200,
        max_epochs=max_epochs,
        seed=5,
        objective=Objective.VAL_ACCURACY,
        mode=Mode.HEALTH,
        await_verdicts=True,
    )
    return TrialJob("s", f"t{number}", request)


def _runner(tmp_path: Path, trials_per_process: int) -> ProcessTrialRunner:
    config = TrainerSettings(
        trainer_id="warm",
        work_dir=tmp_path / "work",
        trials_per_process=trials_per_process,
        spare_lead_trials=2,
        verdict_timeout_seconds=WARM_TIMEOUT,  # a held trial waits at its first epoch until released
    )
    return ProcessTrialRunner(config, LocalArtifactStore(tmp_path / "artifacts"))


class Recorder:
    """Trial hooks that note which child ran each trial and every epoch; ``release`` lets a held trial go on."""

    def __init__(self, runner: ProcessTrialRunner, *, held: bool = False) -> None:
        self._runner = runner
        self.released = threading.Event()
        if not held:
            self.released.set()
        self.pids: list[int | None] = []
        self.epochs: list[int] = []

    def hooks(self) -> TrialHooks:
        return TrialHooks(
            started=lambda architecture, count: self.pids.append(self._runner.child_pid),
            epoch_completed=self._epoch,
            control=lambda: None,
            judged=lambda: 10**6 if self.released.is_set() else 0,
        )

    def _epoch(self, telemetry: EpochTelemetry) -> None:
        self.epochs.append(telemetry.epoch)


def _gone(pid: int | None) -> bool:
    if pid is None or not psutil.pid_exists(pid):
        return True
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def test_the_spare_is_warm_in_time_a_dead_spare_is_replaced_and_shutdown_stops_every_child(
    tmp_path: Path,
) -> None:
    runner = _runner(tmp_path, trials_per_process=1)
    try:
        held = Recorder(runner, held=True)
        first = asyncio.create_task(asyncio.to_thread(runner.run, _job(1, 2), held.hooks()))
        await eventually(lambda: bool(held.epochs), "the first trial's first epoch", timeout=WARM_TIMEOUT)
        await eventually(
            lambda: {"tensorflow", "dataset"} <= runner.spare_ready(),
            "the spare to import TensorFlow and load the dataset while trial 1 is held",
            timeout=WARM_TIMEOUT,
        )
        spare = runner.spare_pid
        assert not first.done()  # the current child has not retired: its trial is still running
        assert spare is not None and spare not in held.pids
        held.released.set()
        assert (await first).kind is OutcomeKind.COMPLETED

        second = Recorder(runner)
        assert (await asyncio.to_thread(runner.run, _job(2, 1), second.hooks())).kind is OutcomeKind.COMPLETED
        assert second.pids == [spare]  # the warm spare took the next trial
        assert runner.processes_started == 2

        # The spare started for trial 2 is handed trial 3 and dies before it reads it (stopped, then killed):
        # the trial goes to a fresh child, once.
        dead = runner.spare_pid
        assert dead is not None
        os.kill(dead, signal.SIGSTOP)
        third = Recorder(runner, held=True)
        running = asyncio.create_task(asyncio.to_thread(runner.run, _job(3, 3), third.hooks()))
        await eventually(lambda: runner.processes_started == 3, "trial 3 to be sent to the stopped spare")
        assert runner.child_pid == dead
        os.kill(dead, signal.SIGKILL)
        await eventually(lambda: bool(third.epochs), "the third trial's first epoch", timeout=WARM_TIMEOUT)
        assert runner.processes_started == 4 and _gone(dead)
        assert len(third.pids) == 1 and third.pids[0] not in (dead, spare, *held.pids)
        await eventually(lambda: runner.spare_pid is not None, "a spare beside the third trial")
        children = runner.child_pids()
    finally:
        await asyncio.to_thread(runner.close)  # shutdown: the held trial stops at its epoch end, the spare is killed
    stopped = await running
    assert stopped.kind is OutcomeKind.COMPLETED and stopped.stopped_early and stopped.epochs_trained == 1
    assert len(children) >= 2 and all(_gone(pid) for pid in children)
    assert runner.child_pids() == []
    # every trial ran once, in one child: one start and its own epochs each
    assert [len(r.pids) for r in (held, second, third)] == [1, 1, 1]
    assert (held.epochs, second.epochs, third.epochs) == ([1, 2], [1], [1])
    assert len(list((tmp_path / "artifacts").rglob("model.keras"))) == 3

"""Trials in a recycled child process: results flow back, control flows in, a killed child fails only its trial."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from contracts.enums import ControlAction, DatasetName, Mode, Objective
from contracts.events import TrialRequestedData
from contracts.telemetry import EpochTelemetry
from services.runtime.artifacts.local import LocalArtifactStore
from services.trainer.control import ControlRequest
from services.trainer.isolation import ProcessTrialRunner
from services.trainer.outcome import OutcomeKind, TrialHooks, TrialJob
from services.trainer.settings import TrainerSettings

PARAMS = {"conv_blocks": 1, "filters": 8, "dense_units": 16, "batch_size": 16}
CALM = TrialHooks(started=lambda a, c: None, epoch_completed=lambda t: None, control=lambda: None)


def _job(trial_id: str, max_epochs: int, *, await_verdicts: bool = False) -> TrialJob:
    request = TrialRequestedData(
        trial_number=int(trial_id[-1]),
        params=PARAMS,
        dataset=DatasetName.DIGITS,
        max_samples=300,
        max_epochs=max_epochs,
        seed=5,
        objective=Objective.VAL_ACCURACY,
        mode=Mode.HEALTH,
        await_verdicts=await_verdicts,
    )
    return TrialJob("s", trial_id, request)


def _runner(tmp_path: Path, planned_trials: int | None = None, **settings: Any) -> ProcessTrialRunner:
    config = TrainerSettings(trainer_id="iso", work_dir=tmp_path / "work", **settings)
    return ProcessTrialRunner(config, LocalArtifactStore(tmp_path / "artifacts"), planned_trials=planned_trials)


def test_trials_run_in_a_child_that_is_replaced_after_its_quota_and_the_last_planned_gets_no_spare(
    tmp_path: Path,
) -> None:
    runner = _runner(tmp_path, planned_trials=2, trials_per_process=1)
    epochs: list[EpochTelemetry] = []
    started: list[tuple[str, int]] = []
    hooks = TrialHooks(started=lambda a, c: started.append((a, c)), epoch_completed=epochs.append, control=lambda: None)
    try:
        first = runner.run(_job("t1", 2), hooks)
        second = runner.run(_job("t2", 1), hooks)
    finally:
        runner.close()
    assert first.kind is OutcomeKind.COMPLETED and second.kind is OutcomeKind.COMPLETED
    assert [e.epoch for e in epochs] == [1, 2, 1]
    assert started and started[0][1] > 0
    assert first.model_key is not None and (tmp_path / "artifacts" / first.model_key).is_file()
    assert runner.processes_started == 2
    assert runner.children_spawned == 2  # the first child, and the spare that ran t2; none beside the last trial


def test_a_child_waits_at_an_epoch_end_only_for_a_pruner_and_gets_each_verdict_as_it_is_given(tmp_path: Path) -> None:
    # A wait of the full timeout at either of the two epoch ends would take 600 s: these trials take seconds.
    runner = _runner(tmp_path, verdict_timeout_seconds=300)
    epochs: list[EpochTelemetry] = []
    hooks = TrialHooks(
        started=lambda a, c: None,
        epoch_completed=epochs.append,
        control=lambda: None,
        judged=lambda: len(epochs),  # the pruner judges each epoch as soon as it is reported
    )
    started = time.monotonic()
    try:
        without_pruner = runner.run(_job("t6", 3), CALM)
        with_pruner = runner.run(_job("t7", 3, await_verdicts=True), hooks)
    finally:
        runner.close()
    assert without_pruner.kind is OutcomeKind.COMPLETED and with_pruner.kind is OutcomeKind.COMPLETED
    assert [e.epoch for e in epochs] == [1, 2, 3]
    assert time.monotonic() - started < 120


def test_a_control_request_reaches_the_child(tmp_path: Path) -> None:
    runner = _runner(tmp_path)
    prune = ControlRequest(ControlAction.PRUNE, "below the median")
    epochs: list[EpochTelemetry] = []
    hooks = TrialHooks(started=lambda a, c: None, epoch_completed=epochs.append, control=lambda: prune)
    try:
        outcome = runner.run(_job("t3", 6), hooks)
    finally:
        runner.close()
    assert outcome.kind is OutcomeKind.PRUNED and outcome.reason == "below the median"
    assert len(epochs) == 1


def test_a_child_killed_mid_trial_fails_that_trial_and_the_next_one_runs(tmp_path: Path) -> None:
    runner = _runner(tmp_path)

    def kill_child(telemetry: EpochTelemetry) -> None:
        assert runner.child_pid is not None and runner.child_pid != os.getpid()
        os.kill(runner.child_pid, signal.SIGKILL)

    killing = TrialHooks(started=lambda a, c: None, epoch_completed=kill_child, control=lambda: None)
    try:
        killed = runner.run(_job("t4", 4), killing)
        after = runner.run(_job("t5", 1), CALM)
    finally:
        runner.close()
    assert killed.kind is OutcomeKind.FAILED
    assert "SIGKILL" in killed.reason and "out-of-memory" in killed.reason
    assert killed.epochs_trained == 1
    assert after.kind is OutcomeKind.COMPLETED
    assert runner.processes_started == 2

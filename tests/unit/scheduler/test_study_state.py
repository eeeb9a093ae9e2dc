"""The scheduler's decisions as a state machine, table-driven: no bus, no database, no Optuna."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from contracts.enums import StudyState
from contracts.study import StudyConfig
from services.scheduler.registry import StudyRegistry
from services.scheduler.study_state import (
    Completion,
    SchedulingPolicy,
    StoredState,
    StoredTrial,
    StudyRun,
    TrialEnd,
    TrialInFlight,
)


def _run(
    *, trials: int = 4, parallelism: int = 1, queue_ahead: float = 0.0, max_trial_factor: int = 3, max_retries: int = 1
) -> StudyRun:
    config = StudyConfig(dataset="digits", trials=trials, parallelism=parallelism, max_retries=max_retries)
    return StudyRun("s", "study", config, SchedulingPolicy(queue_ahead=queue_ahead, max_trial_factor=max_trial_factor))


def _fly(run: StudyRun, count: int) -> list[TrialInFlight]:
    trials = [TrialInFlight(f"t{run.asked + i}", run.asked + i, {}) for i in range(count)]
    for trial in trials:
        run.track(trial)
    return trials


@dataclass(frozen=True)
class Slots:
    name: str
    trials: int
    parallelism: int
    queue_ahead: float
    in_flight: int
    completed: int
    failed: int
    stopping: bool
    expected: int


@pytest.mark.parametrize(
    "case",
    [
        Slots("a new study fills its parallelism", 10, 3, 0.0, 0, 0, 0, False, 3),
        Slots("queue ahead adds a share of the parallelism", 10, 4, 0.5, 0, 0, 0, False, 6),
        Slots("queue ahead rounds down", 10, 3, 0.25, 0, 0, 0, False, 3),
        Slots("only free slots are filled", 10, 3, 0.0, 2, 0, 0, False, 1),
        Slots("never more than the study still needs", 3, 8, 0.0, 0, 1, 0, False, 2),
        Slots("trials in flight count towards what it needs", 3, 8, 0.0, 2, 1, 0, False, 0),
        Slots("failures do not count as finished", 3, 2, 0.0, 0, 1, 2, False, 2),
        Slots("the attempt budget caps requests", 2, 4, 0.0, 0, 0, 5, False, 1),
        Slots("a stopping study requests nothing", 10, 3, 0.0, 0, 0, 0, True, 0),
    ],
    ids=lambda case: case.name,
)
def test_trials_to_request(case: Slots) -> None:
    run = _run(trials=case.trials, parallelism=case.parallelism, queue_ahead=case.queue_ahead)
    done = _fly(run, case.completed + case.failed)
    for trial in done[: case.completed]:
        run.close(trial.trial_id, TrialEnd.COMPLETED)
    for trial in done[case.completed :]:
        run.close(trial.trial_id, TrialEnd.FAILED)
    _fly(run, case.in_flight)
    run.stopping = case.stopping
    assert run.trials_to_request() == case.expected


@dataclass(frozen=True)
class End:
    name: str
    trials: int
    completed: int
    pruned: int
    failed: int
    in_flight: int
    stop_reason: str | None
    expected: Completion | None


@pytest.mark.parametrize(
    "case",
    [
        End("all trials finished", 3, 2, 1, 0, 0, None, Completion(StudyState.COMPLETED)),
        End("failures beside enough finished trials", 2, 2, 0, 3, 0, None, Completion(StudyState.COMPLETED)),
        End("still running", 3, 2, 0, 0, 1, None, None),
        End("not enough trials yet", 3, 2, 0, 0, 0, None, None),
        End("a stop waits for the trials in flight", 3, 1, 0, 0, 1, "user", None),
        End("stopped", 3, 1, 0, 0, 0, "user", Completion(StudyState.STOPPED, "user")),
        End("attempts used up", 2, 1, 0, 5, 0, None, Completion(StudyState.FAILED, "5 of 6 trials failed; giving up")),
    ],
    ids=lambda case: case.name,
)
def test_completion(case: End) -> None:
    run = _run(trials=case.trials)
    flown = _fly(run, case.completed + case.pruned + case.failed + case.in_flight)
    ends = [TrialEnd.COMPLETED] * case.completed + [TrialEnd.PRUNED] * case.pruned + [TrialEnd.FAILED] * case.failed
    for trial, end in zip(flown, ends, strict=False):
        run.close(trial.trial_id, end)
    if case.stop_reason is not None:
        run.request_stop(case.stop_reason)
    assert run.completion() == case.expected
    assert run.done is (case.expected is not None)
    assert run.completion() is None, "a study ends once"


def test_closing_a_trial_twice_counts_it_once() -> None:
    run = _run()
    (trial,) = _fly(run, 1)
    assert run.close(trial.trial_id, TrialEnd.COMPLETED) is trial
    assert run.close(trial.trial_id, TrialEnd.FAILED) is None
    assert (run.completed, run.failed, run.finished) == (1, 0, {trial.trial_id})


@pytest.mark.parametrize(
    ("attempt", "max_retries", "stopping", "retry"),
    [(1, 1, False, True), (2, 1, False, False), (1, 0, False, False), (1, 1, True, False)],
    ids=["first attempt retries", "retries used up", "no retries configured", "stopping study never retries"],
)
def test_an_expired_lease_fails_the_trial_and_retries_while_attempts_remain(
    attempt: int, max_retries: int, stopping: bool, retry: bool
) -> None:
    run = _run(max_retries=max_retries)
    trial = TrialInFlight("lost", 0, {"lr": 0.1}, attempt=attempt)
    run.track(trial)
    run.stopping = stopping
    expiry = run.expire("lost", 12.0)
    assert expiry is not None and expiry.trial is trial and expiry.retry is retry
    assert expiry.reason == f"trainer went silent for 12s (attempt {attempt})"
    assert run.failed == 1 and "lost" not in run.in_flight
    assert run.expire("lost", 12.0) is None, "an expired trial expires once"


@pytest.mark.parametrize(("attempt", "stopping", "retry"), [(1, False, True), (3, False, True), (1, True, False)])
def test_a_handed_back_trial_is_failed_and_asked_again_unless_the_study_is_stopping(
    attempt: int, stopping: bool, retry: bool
) -> None:
    run = _run(max_retries=1)
    trial = TrialInFlight("back", 0, {"lr": 0.1}, attempt=attempt)
    run.track(trial)
    run.stopping = stopping
    lost = run.hand_back("back", "trainer t shut down at epoch 2")
    assert lost is not None and lost.trial is trial and lost.retry is retry  # retries used up or not
    assert run.failed == 1 and "back" not in run.in_flight
    assert run.hand_back("back", "again") is None, "a trial is handed back once"


def test_a_resumed_study_counts_its_stored_trials() -> None:
    run = _run(trials=10)
    lost = run.resume(
        [
            StoredTrial(0, StoredState.COMPLETED, trial_id="a"),
            StoredTrial(1, StoredState.PRUNED, trial_id="b"),
            StoredTrial(2, StoredState.FAILED, trial_id="c"),
            StoredTrial(3, StoredState.RUNNING, {"lr": 0.01}, trial_id="d", attempt=2),
            StoredTrial(4, StoredState.RUNNING),  # asked, never handed to a trainer
            StoredTrial(5, StoredState.WAITING),
        ]
    )
    assert lost == [4]
    assert (run.asked, run.completed, run.pruned, run.failed) == (6, 1, 1, 2)
    (resumed,) = run.in_flight.values()
    assert (resumed.trial_id, resumed.number, resumed.params, resumed.attempt, resumed.started) == (
        "d",
        3,
        {"lr": 0.01},
        2,
        True,
    )


def test_the_registry_forgets_finished_studies_but_remembers_their_ids() -> None:
    registry: StudyRegistry[None] = StudyRegistry(finished_kept=2)
    for index in range(3):
        run = _run()
        run.study_id = f"s{index}"
        registry.add(run, None)
        (trial,) = _fly(run, 1)
        registry.index_trial(trial.trial_id, run.study_id)
        assert registry.of_trial(trial.trial_id) is registry.get(run.study_id)
        registry.evict(run.study_id)
        assert registry.of_trial(trial.trial_id) is None and registry.is_finished(run.study_id)
    assert registry.sizes() == {"active": 0, "trials": 0, "finished": 2}
    assert not registry.knows("s0") and registry.knows("s2")

"""The bridge against a stand-in for RunPod's serverless API (the cloud cannot be reached from here), inside a
real study (scheduler on the in-process bus): the requests the pinned SDK sends, and the failure drills."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
from pydantic import SecretStr

from contracts.enums import ControlAction, DatasetName, Mode, PrunerName
from contracts.events import (
    Event,
    StudyCompleted,
    StudyCreated,
    StudyCreatedData,
    TrialCompleted,
    TrialControl,
    TrialControlData,
    TrialEpochCompleted,
    TrialFailed,
    TrialPruned,
    TrialRequested,
    TrialRequestedData,
)
from contracts.study import StudyConfig
from services.runpod import bootstrap as bridge_bootstrap
from services.runpod.settings import BridgeSettings
from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.bus.memory import InMemoryBus
from services.runtime.db.engine import sqlite_url
from services.runtime.service import RunningService
from services.scheduler import bootstrap as scheduler_bootstrap
from services.scheduler.settings import SchedulerSettings
from tests.support.runpod_api import FakeRunPod, JobScript, fake_runpod
from tests.support.waiting import eventually

E = TypeVar("E", bound=Event)
API_KEY = "rp-test-key-0123456789"
ENDINGS = (TrialCompleted, TrialFailed, TrialPruned)


@pytest.fixture
def fake() -> Iterator[FakeRunPod]:
    with fake_runpod() as server:
        yield server


def bridge_settings(fake: FakeRunPod, **overrides: object) -> BridgeSettings:
    values: dict[str, object] = {
        "endpoint_id": "ep123",
        "api_key": SecretStr(API_KEY),
        "endpoint_url": f"{fake.url}/v2",
        "bridge_id": "bridge-1",
        "poll_seconds": 0.05,
        "heartbeat_seconds": 0.2,
        "outage_seconds": 10.0,
        "concurrency": 2,
        "seconds_per_epoch": 1.0,
        "gpu_price_per_hour": 0.36,
    }
    return BridgeSettings(**(values | overrides))  # type: ignore[arg-type]  # test values by name


@dataclass
class Study:
    bus: InMemoryBus
    events: list[Event] = field(default_factory=list)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    def endings(self) -> Counter[tuple[str | None, str]]:
        return Counter((e.trial_id, type(e).__name__) for e in self.events if isinstance(e, ENDINGS))


@pytest.fixture
async def bus() -> AsyncIterator[InMemoryBus]:
    bus = InMemoryBus()
    yield bus
    await bus.close()


async def run_study(bus: InMemoryBus, tmp_path: Path, settings: BridgeSettings, trials: int) -> Study:
    study = Study(bus)

    async def record(event: Event) -> None:
        study.events.append(event)

    await bus.subscribe("observer", ["#"], record, prefetch=100)
    services: list[RunningService] = []
    scheduler = SchedulerSettings(
        optuna_storage=SecretStr(sqlite_url(tmp_path / "optuna.sqlite")),
        resume_unfinished=False,
        queue_ahead=0,
        lease_seconds=1.5,
        lease_check_seconds=0.2,
    )
    services.append(await scheduler_bootstrap.start(bus, scheduler))
    services.append(await bridge_bootstrap.start(bus, LocalArtifactStore(tmp_path / "artifacts"), settings))
    config = StudyConfig(
        dataset=DatasetName.DIGITS,
        trials=trials,
        max_epochs=2,
        mode=Mode.SIMPLE,
        pruner=PrunerName.NONE,
        parallelism=2,
        max_retries=1,
        seed=1,
    )
    await bus.publish(StudyCreated(source="test", study_id="s1", data=StudyCreatedData(study_name="rp", config=config)))
    try:
        await eventually(lambda: bool(study.of(StudyCompleted)), "the study to complete", timeout=30)
    finally:
        for service in reversed(services):
            await service.stop()
    return study


async def test_a_study_runs_each_trial_as_one_job_with_the_requests_the_sdk_sends(
    bus: InMemoryBus, fake: FakeRunPod, tmp_path: Path
) -> None:
    study = await run_study(bus, tmp_path, bridge_settings(fake), trials=3)

    completed = study.of(TrialCompleted)
    assert len(completed) == 3 and all(n == 1 for n in study.endings().values())
    assert len(study.of(TrialEpochCompleted)) == 6  # 2 epochs per trial, relayed once each
    metrics = completed[0].data.metrics
    assert metrics.gpu_seconds == pytest.approx(7.2)  # the job's billed executionTime
    assert metrics.cost_usd == pytest.approx(7.2 / 3600 * 0.36)
    assert fake.running_max <= 2  # the concurrency
    runs = [r for r in fake.requests if r.path.endswith("/run")]
    assert len(runs) == 3
    first = runs[0]
    assert (first.method, first.path, first.authorization) == ("POST", "/v2/ep123/run", f"Bearer {API_KEY}")
    assert first.body["policy"] == {"executionTimeout": 600_000}
    sent = {run.body["input"]["request"]["trial_number"]: run.body["input"]["request"] for run in runs}
    for requested in study.of(TrialRequested):  # each request went out as it was, in whatever order (2 at a time)
        assert sent[requested.data.trial_number] == requested.data.model_dump(mode="json")
    job = fake.jobs["job-1"]
    paths = {(r.method, r.path) for r in fake.requests if job.id in r.path}
    assert paths == {("GET", f"/v2/ep123/stream/{job.id}"), ("GET", f"/v2/ep123/status/{job.id}")}


async def test_a_job_that_times_out_fails_its_trial_once_and_the_study_completes(
    bus: InMemoryBus, fake: FakeRunPod, tmp_path: Path
) -> None:
    fake.scripts = [JobScript(ending="timed_out")]
    study = await run_study(bus, tmp_path, bridge_settings(fake), trials=2)

    failed = study.of(TrialFailed)
    assert len(failed) == 1 and "execution timeout" in failed[0].data.reason
    assert all(n == 1 for n in study.endings().values())
    assert len(study.of(TrialCompleted)) == 2


async def test_a_worker_lost_mid_trial_is_failed_and_retried_by_the_scheduler(
    bus: InMemoryBus, fake: FakeRunPod, tmp_path: Path
) -> None:
    fake.scripts = [JobScript(ending="lost")]
    study = await run_study(bus, tmp_path, bridge_settings(fake), trials=2)

    failed = study.of(TrialFailed)
    assert len(failed) == 1 and failed[0].source == "scheduler"  # the lease ran out: no trainer spoke for it
    retries = [e for e in study.of(TrialRequested) if e.data.retry_of == failed[0].trial_id]
    assert len(retries) == 1
    assert len(study.of(TrialCompleted)) == 2
    assert all(n == 1 for n in study.endings().values())


async def test_an_endpoint_answering_5xx_for_a_while_delays_but_does_not_fail_a_trial(
    bus: InMemoryBus, fake: FakeRunPod, tmp_path: Path
) -> None:
    fake.failures = [503, 502, 503, 500]
    study = await run_study(bus, tmp_path, bridge_settings(fake), trials=2)

    assert len(study.of(TrialCompleted)) == 2 and not study.of(TrialFailed)
    assert all(n == 1 for n in study.endings().values())
    assert len(fake.jobs) == 2 and not fake.failures  # each trial ran as one job, after the 4 refused requests


async def test_a_pruned_trial_whose_cancelled_job_still_returns_ends_pruned_once(
    bus: InMemoryBus, fake: FakeRunPod, tmp_path: Path
) -> None:
    fake.scripts = [JobScript(epochs=50, cancel="ignored")]
    events: list[Event] = []

    async def record(event: Event) -> None:
        events.append(event)

    await bus.subscribe("observer", ["#"], record, prefetch=100)
    bridge = await bridge_bootstrap.start(bus, LocalArtifactStore(tmp_path / "a"), bridge_settings(fake))
    try:
        config = StudyConfig(dataset=DatasetName.DIGITS, max_epochs=50)
        request = TrialRequested(source="test", study_id="s1", trial_id="t1", data=_request(config))
        await bus.publish(request)
        await eventually(lambda: any(isinstance(e, TrialEpochCompleted) for e in events), "a relayed epoch")
        prune = TrialControlData(action=ControlAction.PRUNE, reason="below the median")
        await bus.publish(request.follow_up(TrialControl, prune, source="scheduler"))
        await eventually(lambda: any(isinstance(e, ENDINGS) for e in events), "the trial's ending", timeout=10)
        await eventually(lambda: fake.jobs["job-1"].status == "COMPLETED", "the cancelled job to still return")
    finally:
        await bridge.stop()

    assert [type(e) for e in events if isinstance(e, ENDINGS)] == [TrialPruned]
    assert ("POST", "/v2/ep123/cancel/job-1") in {(r.method, r.path) for r in fake.requests}


async def test_a_trial_that_cannot_fit_the_execution_timeout_is_refused_before_it_starts(
    bus: InMemoryBus, fake: FakeRunPod, tmp_path: Path
) -> None:
    events: list[Event] = []

    async def record(event: Event) -> None:
        events.append(event)

    await bus.subscribe("observer", ["#"], record, prefetch=100)
    settings = bridge_settings(fake, execution_timeout_seconds=60, seconds_per_epoch=20)
    bridge = await bridge_bootstrap.start(bus, LocalArtifactStore(tmp_path / "a"), settings)
    try:
        request = TrialRequested(
            source="test",
            study_id="s1",
            trial_id="t1",
            data=_request(StudyConfig(dataset=DatasetName.DIGITS, max_epochs=10)),
        )
        await bus.publish(request)
        await eventually(lambda: any(isinstance(e, TrialFailed) for e in events), "the refusal")
    finally:
        await bridge.stop()

    failed = next(e for e in events if isinstance(e, TrialFailed))
    assert failed.data.reason.startswith("refused before it started: max_epochs=10 cannot fit")
    assert "use max_epochs=2 or less" in failed.data.reason
    assert not any(r.path.endswith("/run") for r in fake.requests)


async def test_a_trial_stopped_while_it_waited_in_the_queue_never_becomes_a_job(
    bus: InMemoryBus, fake: FakeRunPod, tmp_path: Path
) -> None:
    events: list[Event] = []

    async def record(event: Event) -> None:
        events.append(event)

    await bus.subscribe("observer", ["#"], record, prefetch=100)
    bridge = await bridge_bootstrap.start(bus, LocalArtifactStore(tmp_path / "a"), bridge_settings(fake))
    try:
        request = TrialRequested(
            source="test", study_id="s1", trial_id="t1", data=_request(StudyConfig(dataset=DatasetName.DIGITS))
        )
        stop = TrialControlData(action=ControlAction.STOP, reason="the study is stopping")
        await bus.publish(request.follow_up(TrialControl, stop, source="scheduler"))
        await bus.publish(request)
        await eventually(lambda: any(isinstance(e, TrialFailed) for e in events), "the trial's failure")
    finally:
        await bridge.stop()

    failed = next(e for e in events if isinstance(e, TrialFailed))
    assert failed.data.reason == "cancelled before it started: the study is stopping"
    assert not fake.jobs


async def test_an_endpoint_refusing_the_key_fails_the_trial_with_the_reason(
    bus: InMemoryBus, fake: FakeRunPod, tmp_path: Path
) -> None:
    fake.failures = [401]
    events: list[Event] = []

    async def record(event: Event) -> None:
        events.append(event)

    await bus.subscribe("observer", ["#"], record, prefetch=100)
    bridge = await bridge_bootstrap.start(bus, LocalArtifactStore(tmp_path / "a"), bridge_settings(fake))
    try:
        config = StudyConfig(dataset=DatasetName.DIGITS)
        await bus.publish(TrialRequested(source="test", study_id="s1", trial_id="t1", data=_request(config)))
        await eventually(lambda: any(isinstance(e, TrialFailed) for e in events), "the trial's failure")
    finally:
        await bridge.stop()

    failed = next(e for e in events if isinstance(e, TrialFailed))
    assert failed.data.reason == "RunPod refused the API key (HTTP 401); check HPO_RUNPOD_API_KEY"


def _request(config: StudyConfig) -> TrialRequestedData:
    return TrialRequestedData(
        trial_number=0,
        params={"filters": 8},
        dataset=config.dataset,
        max_epochs=config.max_epochs,
        objective=config.optimize_for,
        mode=config.mode,
    )

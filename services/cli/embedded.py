"""The embedded default: every service as asyncio tasks in one process over the in-process bus.

Files live under the output folder: ``.hpo/optuna.sqlite`` (Optuna storage),
``.hpo/read_models.sqlite`` (the reporter's read models), ``.hpo/artifacts/`` (models, bundles)
and the results, ``<study>/`` plus ``<study>.zip``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from contracts.events import (
    Event,
    ReportReady,
    StudyCompleted,
    StudyCreated,
    StudyCreatedData,
    StudyResumed,
    StudyResumeRequested,
    StudyResumeRequestedData,
    StudyStopRequested,
    StudyStopRequestedData,
)
from contracts.study import StudyConfig
from services.cli.early_trainer import embedded_trainer_settings
from services.cli.progress import StudyProgress
from services.health import bootstrap as health_bootstrap
from services.health.settings import HealthSettings
from services.reporter import bootstrap as reporter_bootstrap
from services.reporter.settings import ReporterSettings
from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.bus.memory import InMemoryBus
from services.runtime.db.engine import create_engine_for, sqlite_url
from services.runtime.db.migrate import upgrade
from services.runtime.db.repository import ReadModelRepository
from services.runtime.errors import UserInputError
from services.runtime.service import RunningService
from services.scheduler import bootstrap as scheduler_bootstrap
from services.scheduler.settings import SchedulerSettings
from services.trainer import bootstrap as trainer_bootstrap
from services.trainer.outcome import TrialRunner

log = logging.getLogger(__name__)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
RESUME_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class EmbeddedOutcome:
    completed: StudyCompleted
    report: ReportReady | None


@dataclass(frozen=True)
class EmbeddedPaths:
    output_dir: Path

    @property
    def state_dir(self) -> Path:
        return self.output_dir / ".hpo"

    @property
    def optuna_url(self) -> str:
        return sqlite_url(self.state_dir / "optuna.sqlite")

    @property
    def read_models_url(self) -> str:
        return sqlite_url(self.state_dir / "read_models.sqlite")

    @property
    def artifacts_dir(self) -> Path:
        return self.state_dir / "artifacts"


async def run_embedded(
    config: StudyConfig,
    study_id: str,
    study_name: str,
    output_dir: Path,
    progress: StudyProgress,
    *,
    api_port: int | None = None,
    resume: bool = False,
    bridge: BridgeSettings | None = None,
    on_api: Callable[[str, str | None], None] | None = None,
    runner: TrialRunner | None = None,
) -> EmbeddedOutcome:
    """Run one study to its end (or to a stop request on Ctrl-C) and return how it ended. With
    ``api_port``, the REST API serves this run on 127.0.0.1 (live stream, trials, results) meanwhile.
    With ``resume``, the study (stored in ``output_dir``) goes on from its finished trials. With
    ``bridge``, trials train on a RunPod serverless endpoint instead of in this process. ``on_api`` is called
    (in a worker thread, once the study is under way) with the API's URL and the token made for this run
    (None: ``HPO_API_TOKEN``): ``--ui`` starts the control panel there. ``runner``: the trainer's runner,
    already started (``early_trainer.start_trial_process``); else one is made."""
    paths = EmbeddedPaths(output_dir.resolve())
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    artifacts = LocalArtifactStore(paths.artifacts_dir)
    bus = InMemoryBus()
    services: list[RunningService] = []
    trainer_settings = embedded_trainer_settings(config, paths.output_dir)
    repository: ReadModelRepository | None = None
    finished: asyncio.Future[EmbeddedOutcome] = asyncio.get_running_loop().create_future()
    completed: list[StudyCompleted] = []
    resumed = asyncio.Event()

    async def observe(event: Event) -> None:
        if event.study_id != study_id:
            return
        progress.handle(event)
        if isinstance(event, StudyResumed):
            resumed.set()
        if isinstance(event, StudyCompleted):
            completed.append(event)
        if isinstance(event, ReportReady) and not finished.done() and completed:
            finished.set_result(EmbeddedOutcome(completed=completed[0], report=event))

    try:
        if bridge is not None:  # trials train on a RunPod endpoint
            from services.runpod import bootstrap as bridge_bootstrap

            services.append(await bridge_bootstrap.start(bus, artifacts, bridge))
        else:  # first: its trial process imports TensorFlow while the database and the other services are set up
            services.append(await trainer_bootstrap.start(bus, artifacts, trainer_settings, runner=runner))
        await asyncio.to_thread(upgrade, paths.read_models_url)
        repository = ReadModelRepository(create_engine_for(paths.read_models_url))
        await bus.subscribe("cli", ["#"], observe, prefetch=1)
        services.append(
            await scheduler_bootstrap.start(
                bus, SchedulerSettings(optuna_storage=paths.optuna_url, resume_unfinished=False, queue_ahead=0)
            )
        )
        services.append(await health_bootstrap.start(bus, HealthSettings()))
        services.append(
            await reporter_bootstrap.start(
                bus,
                repository,
                artifacts,
                ReporterSettings(results_root=paths.output_dir, plots_ahead_dir=paths.state_dir / "plots-ahead"),
            )
        )
        api_url: str | None = None
        made_token: str | None = None
        if api_port is not None:
            api, made_token = await _start_api(bus, repository, artifacts, api_port, config.data_dir)
            api_url = api.url
            services.append(api)
            progress.console.print(f"API: {api.url}/docs (job {study_id})")
            if made_token is not None:
                progress.console.print(f"API token for this run (shown once): {made_token}")
        if resume:
            await bus.publish(StudyResumeRequested(source="cli", study_id=study_id, data=StudyResumeRequestedData()))
            try:
                await asyncio.wait_for(resumed.wait(), RESUME_TIMEOUT_SECONDS)
            except TimeoutError:
                raise UserInputError(
                    f"study {study_name} could not be resumed: its Optuna storage in {paths.state_dir} does not "
                    "hold it as stopped or interrupted"
                ) from None
        else:
            data = StudyCreatedData(study_name=study_name, config=config)
            await bus.publish(StudyCreated(source="cli", study_id=study_id, data=data))
        panel = asyncio.create_task(asyncio.to_thread(on_api, api_url, made_token)) if on_api and api_url else None
        with _stop_on_interrupt(bus, study_id, progress):
            outcome = await finished
        if panel is not None:
            await panel
        return outcome
    finally:
        for service in reversed(services):
            await service.stop()
        await bus.close()
        if repository is not None:
            repository.engine.dispose()


if TYPE_CHECKING:
    from services.api.bootstrap import RunningApi
    from services.runpod.settings import BridgeSettings


async def _start_api(
    bus: InMemoryBus,
    repository: ReadModelRepository,
    artifacts: LocalArtifactStore,
    port: int,
    data_dir: str | None,
) -> tuple[RunningApi, str | None]:
    """The REST API on this run's bus and read models, on localhost, behind a token: ``HPO_API_TOKEN`` when
    set, else a random one made for this run (returned, to be shown once; None when it came from the
    environment)."""
    from pydantic import SecretStr

    from services.api import bootstrap as api_bootstrap
    from services.api.settings import ApiSettings, load_settings
    from services.api.tokens import new_token
    from services.cli.serve import dataset_catalog

    given = ApiSettings(development=True).token
    made = None if given is not None else new_token()
    token = given if given is not None else SecretStr(made or "")
    settings = load_settings(host="127.0.0.1", port=port, data_dir=data_dir, token=token, development=False)
    running = await api_bootstrap.start(bus, repository, artifacts, settings, dataset_catalog(settings.data_dir))
    return running, made


@contextlib.contextmanager
def _stop_on_interrupt(bus: InMemoryBus, study_id: str, progress: StudyProgress) -> Iterator[None]:
    """Ctrl-C (SIGINT, also from ``timeout -s INT`` or a process group) or SIGTERM (``kill``, ``timeout``, a
    supervisor) asks the study to stop: the running trial ends at its next batch, and the results of what
    finished are written as usual; the study can be resumed. Further signals only say so; nothing is cut
    short, so the results and their paths always come out."""
    loop = asyncio.get_running_loop()
    interrupts = 0
    pending: set[asyncio.Task[None]] = set()

    def on_sigint() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 1:
            progress.console.print("[yellow]already stopping: writing the results of the finished trials[/yellow]")
            return
        progress.console.print("[yellow]stopping after the running trial; the results are written[/yellow]")
        stop = StudyStopRequested(source="cli", study_id=study_id, data=StudyStopRequestedData(reason="interrupted"))
        task = loop.create_task(bus.publish(stop))
        pending.add(task)
        task.add_done_callback(pending.discard)

    try:
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, on_sigint)
        installed = True
    except (NotImplementedError, RuntimeError):
        installed = False
    try:
        yield
    finally:
        if installed:
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)

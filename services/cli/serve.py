"""``hpo serve <service>``: one service as its own process on RabbitMQ, S3/MinIO and (for the
scheduler and reporter) Postgres, with ``/healthz``, ``/readyz`` and ``/metrics`` on ``HPO_HTTP_PORT``.

Settings come from the environment (``HPO_*``, see ``services/runtime/settings.py`` and each
service's ``settings.py``), optionally loaded from an env file first. SIGTERM or Ctrl-C stops the
service gracefully: consumers stop, in-flight handlers finish, connections close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, disable_created_metrics

from contracts.topology import DURABLE_QUEUES
from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.artifacts.port import ArtifactStore
from services.runtime.bus.port import Bus
from services.runtime.errors import UserInputError
from services.runtime.observability.metrics import InstrumentedBus, ServiceMetrics
from services.runtime.observability.probes import ProbeServer
from services.runtime.service import RunningService
from services.runtime.settings import (
    BrokerSettings,
    DatabaseSettings,
    ObjectStoreSettings,
    ProbeSettings,
    load,
    redact_url,
)

if TYPE_CHECKING:
    from services.api.datasets import DatasetCatalog
    from services.runtime.db.repository import ReadModelRepository

log = logging.getLogger(__name__)
SERVICES = ("scheduler", "trainer", "health", "reporter", "api", "runpod-bridge")
BROKER_RETRY_SECONDS = (1, 2, 5, 10)

Starter = Callable[[Bus], Awaitable[RunningService]]


def load_env_file(path: str | None) -> None:
    if path is None:
        return
    if not Path(path).is_file():
        raise UserInputError(f"env file {path} does not exist")
    from dotenv import load_dotenv

    load_dotenv(path, override=False)


def artifact_store(settings: ObjectStoreSettings) -> ArtifactStore:
    if settings.s3_endpoint:
        from services.runtime.artifacts.s3 import S3ArtifactStore

        return S3ArtifactStore(
            settings.s3_endpoint,
            settings.s3_access_key.get_secret_value(),
            settings.s3_secret_key.get_secret_value(),
            settings.s3_bucket,
            secure=settings.s3_secure,
        )
    return LocalArtifactStore(settings.artifacts_dir)


def starter_for(name: str, registry: CollectorRegistry | None = None) -> Starter:
    """The bootstrap of one service with its own settings; only what that service needs is read.
    ``registry``: where the service's domain metrics go (the one ``/metrics`` exports)."""
    registry = registry or CollectorRegistry()
    if name == "scheduler":
        from services.runtime.observability.studies import StudyMetrics
        from services.scheduler import bootstrap as scheduler
        from services.scheduler.settings import SchedulerSettings

        scheduler_settings = load(SchedulerSettings, prefix="HPO_SCHEDULER_")
        return lambda bus: scheduler.start(bus, scheduler_settings, StudyMetrics(registry))
    if name == "health":
        from services.health import bootstrap as health
        from services.health.settings import HealthSettings
        from services.runtime.observability.health import HealthMetrics

        health_settings = load(HealthSettings, prefix="HPO_HEALTH_")
        return lambda bus: health.start(bus, health_settings, HealthMetrics(registry))
    if name == "trainer":
        from services.runtime.observability.training import TrainingMetrics
        from services.trainer import bootstrap as trainer
        from services.trainer.settings import TrainerSettings

        store, trainer_settings = (
            artifact_store(load(ObjectStoreSettings)),
            load(TrainerSettings, prefix="HPO_TRAINER_"),
        )
        metrics = TrainingMetrics(trainer_settings.trainer_id, registry)
        return lambda bus: trainer.start(bus, store, trainer_settings, metrics=metrics, hand_back_on_stop=True)
    if name == "runpod-bridge":
        from services.runpod import bootstrap as bridge
        from services.runpod.settings import BridgeSettings

        bridge_settings = load(BridgeSettings, prefix="HPO_RUNPOD_")
        bridge_store = artifact_store(load(ObjectStoreSettings))
        return lambda bus: bridge.start(bus, bridge_store, bridge_settings)
    if name == "reporter":
        return _reporter_starter()
    if name == "api":
        return _api_starter()
    raise UserInputError(f"unknown service '{name}'; choose one of {', '.join(SERVICES)}")


def _reporter_starter() -> Starter:
    from services.reporter import bootstrap as reporter
    from services.reporter.results.importance import import_now
    from services.reporter.settings import ReporterSettings

    settings = load(ReporterSettings, prefix="HPO_REPORTER_")
    database_url = load(DatabaseSettings).url
    store = artifact_store(load(ObjectStoreSettings))

    async def start(bus: Bus) -> RunningService:
        repository = await _migrated_repository(database_url)
        await asyncio.to_thread(import_now)  # before it is ready: no trial it projects waits for these imports
        return await reporter.start(bus, repository, store, settings)

    return start


def dataset_catalog(data_dir: Path | None) -> DatasetCatalog | None:
    """What the API's ``/datasets`` reads files with: the trainer's dataset readers, when installed."""
    from services.api.datasets import FileCatalog

    try:
        from services.trainer.datasets import describe_datasets
        from services.trainer.datasets.catalog import SPECS
        from services.trainer.datasets.registry import find_source
    except ImportError as exc:  # an API-only install: /datasets tells names and modalities only
        log.warning("api: dataset readers unavailable (%s); /datasets cannot tell which files are present", exc)
        return None
    return FileCatalog(describe_datasets, lambda n, d: find_source(SPECS[n], d).load(), data_dir)


def _api_starter() -> Starter:
    """The REST API (HTTP on ``HPO_API_HOST:HPO_API_PORT``) over the reporter's read models."""
    from services.api import bootstrap as api
    from services.api.settings import load_settings

    settings = load_settings()
    database_url = load(DatabaseSettings).url
    store = artifact_store(load(ObjectStoreSettings))
    catalog = dataset_catalog(settings.data_dir)

    async def start(bus: Bus) -> RunningService:
        repository = await _migrated_repository(database_url)
        return await api.start(bus, repository, store, settings, catalog)

    return start


async def _migrated_repository(database_url: str) -> ReadModelRepository:
    from services.runtime.db.engine import create_engine_for
    from services.runtime.db.migrate import current_revision
    from services.runtime.db.repository import ReadModelRepository

    if await asyncio.to_thread(current_revision, database_url) is None:
        raise UserInputError(
            f"the read-model database {redact_url(database_url)} has no schema; "
            "run 'hpo db upgrade' with the same HPO_DATABASE_URL first"
        )
    return ReadModelRepository(create_engine_for(database_url))


async def serve(name: str) -> None:
    disable_created_metrics()  # no *_created series next to every counter
    registry = CollectorRegistry()
    start_service = starter_for(name, registry)  # the service's own settings first: their errors name it
    broker = load(BrokerSettings)
    metrics = ServiceMetrics(name, registry, queue_prefix=broker.queue_prefix)
    probes_settings = load(ProbeSettings)
    from services.runtime.bus.amqp import AmqpBus

    amqp = AmqpBus(
        broker.amqp_url.get_secret_value(),
        exchange=broker.exchange,
        queue_prefix=broker.queue_prefix,
        retry_backoff_seconds=broker.retry_backoff_seconds,
        heartbeat_seconds=broker.heartbeat_seconds,
        on_dead_letter=metrics.dead_lettered,
    )
    bus = InstrumentedBus(amqp, metrics)
    running: list[RunningService] = []

    def ready() -> bool:
        return bool(running) and amqp.is_connected

    metrics.watch(ready, lambda: amqp.is_connected)
    probes = ProbeServer(metrics.registry, ready, probes_settings.http_host, probes_settings.http_port)
    await probes.start()
    log.info("%s: probes and metrics on port %d", name, probes.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await _connect(bus, redact_url(broker.amqp_url), stop)
        if stop.is_set():
            return
        await bus.declare(DURABLE_QUEUES)  # every service queue exists before anything is published
        service = await start_service(bus)
        running.append(service)
        log.info("%s: serving (broker %s, exchange %s)", name, redact_url(broker.amqp_url), broker.exchange)
        waits = [asyncio.create_task(stop.wait()), asyncio.create_task(service.done.wait())]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            task.cancel()
        log.info("%s: stopping (%s)", name, "idle" if service.done.is_set() else "asked to")
    finally:
        for service in running:
            await service.stop()
        await bus.close()
        await probes.stop()


async def _connect(bus: Bus, where: str, stop: asyncio.Event) -> None:
    """Wait for the broker (a service may start before it); the robust connection handles later outages."""
    attempt = 0
    while not stop.is_set():
        try:
            await bus.start()
            return
        except (OSError, ConnectionError) as exc:
            delay = BROKER_RETRY_SECONDS[min(attempt, len(BROKER_RETRY_SECONDS) - 1)]
            log.warning("broker %s unreachable (%s); retrying in %ds", where, exc, delay)
            attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)

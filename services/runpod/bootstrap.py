"""Wires the bridge: ``trainer.work`` (as many trials at once as the endpoint's concurrency) and its control feed."""

from __future__ import annotations

from contracts.topology import TRAINER_WORK_QUEUE
from services.runpod.costs import EpochTimeBudget
from services.runpod.endpoint import EndpointApi, LocalTestServer, SdkEndpoint
from services.runpod.handlers import BridgeDeps, control_handlers, work_handlers
from services.runpod.settings import BridgeSettings
from services.runtime.artifacts.port import ArtifactStore
from services.runtime.bus.port import Bus
from services.runtime.service import RunningService


def endpoint_api(settings: BridgeSettings) -> EndpointApi:
    if settings.api_flavor == "local-test-server":
        job_seconds = settings.execution_timeout_seconds + settings.request_timeout_seconds
        return LocalTestServer(settings.endpoint_url, settings.request_timeout_seconds, job_seconds)
    return SdkEndpoint(
        settings.endpoint_id,
        settings.api_key.get_secret_value(),
        settings.endpoint_url,
        settings.request_timeout_seconds,
    )


def control_queue(bridge_id: str) -> str:
    return f"trainer.control.{bridge_id}"


async def start(
    bus: Bus, artifacts: ArtifactStore, settings: BridgeSettings, api: EndpointApi | None = None
) -> RunningService:
    deps = BridgeDeps(
        publish=bus.publish,
        api=api or endpoint_api(settings),
        artifacts=artifacts,
        settings=settings,
        budget=EpochTimeBudget(settings.execution_timeout_seconds, settings.seconds_per_epoch),
    )
    control = await bus.subscribe(
        control_queue(settings.bridge_id),
        control_handlers.routing_keys(),
        control_handlers.bind(deps),
        prefetch=100,
        exclusive=True,
    )
    work = await bus.subscribe(
        TRAINER_WORK_QUEUE, work_handlers.routing_keys(), work_handlers.bind(deps), prefetch=settings.concurrency
    )
    return RunningService(name=f"runpod-bridge {settings.bridge_id}", subscriptions=[work, control])

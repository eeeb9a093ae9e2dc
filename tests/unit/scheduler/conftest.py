"""The scheduler fixtures: its settings, and a running scheduler on an InMemoryBus (``harness``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.runtime.bus.memory import InMemoryBus
from services.scheduler.settings import SchedulerSettings
from tests.unit.scheduler.scripted import Harness


@pytest.fixture
def scheduler_settings(tmp_path: Path) -> SchedulerSettings:
    return SchedulerSettings(
        optuna_storage=f"sqlite:///{tmp_path / 'optuna.sqlite'}", lease_seconds=0.5, lease_check_seconds=0.05
    )


@pytest.fixture
async def harness(scheduler_settings: SchedulerSettings) -> AsyncIterator[Harness]:
    from services.scheduler import bootstrap

    bus = InMemoryBus()
    service = await bootstrap.start(bus, scheduler_settings)
    yield Harness(bus, scheduler_settings)
    await service.stop()
    await bus.close()

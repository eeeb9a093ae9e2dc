"""Real services for integration tests: skip when missing on a laptop, fail under HPO_REQUIRE_SERVICES=1."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.integration.cluster import Cluster, Processes, processes_for
from tests.support.databases import postgres_admin, scratch_database
from tests.support.services import AMQP_URL, reachable, require_service


@pytest.fixture
def amqp_url() -> str:
    if not reachable(AMQP_URL, 5672):
        require_service("RabbitMQ", f"nothing listens at {urlsplit(AMQP_URL).netloc}")
    return AMQP_URL


SERVICE_QUEUES = ("scheduler", "health", "reporter", "trainer.work", "observer", "victim")


@pytest.fixture
async def sandbox(amqp_url: str) -> AsyncIterator[dict[str, str]]:
    """An exchange and queue prefix of this test's own; its queues and exchange are deleted afterwards."""
    word = uuid.uuid4().hex[:8]
    names = {"exchange": f"test.it.{word}", "prefix": f"test-it-{word}."}
    yield names
    import aio_pika

    from services.runtime.bus.amqp import dead_letter_queue

    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for queue in SERVICE_QUEUES:
            for name in (names["prefix"] + queue, dead_letter_queue(names["prefix"] + queue)):
                await channel.queue_delete(name)
        await channel.exchange_delete(names["exchange"])


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty Postgres database that only this test uses, dropped afterwards."""
    admin = postgres_admin()
    try:
        with scratch_database(admin, "hpo_it") as url:
            yield url
    finally:
        admin.dispose()


@pytest.fixture
def processes(amqp_url: str, postgres_url: str, sandbox: dict[str, str], tmp_path: Path) -> Iterator[Processes]:
    """Service processes on this test's sandbox and database, all stopped afterwards."""
    yield from processes_for(amqp_url, postgres_url, sandbox, tmp_path)


@pytest.fixture
async def cluster(processes: Processes, amqp_url: str, sandbox: dict[str, str]) -> Cluster:
    return Cluster(processes, amqp_url, sandbox)

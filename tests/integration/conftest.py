"""Real services for integration tests: skip when missing on a laptop, fail under HPO_REQUIRE_SERVICES=1."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.databases import scratch_database
from tests.integration.cluster import Cluster, Processes, processes_for

AMQP_URL = os.environ.get("HPO_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def require(service: str, reason: str) -> None:
    if os.environ.get("HPO_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{service} is required (HPO_REQUIRE_SERVICES=1) but {reason}")
    pytest.skip(f"{service} not available: {reason}")


def reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def amqp_url() -> str:
    if not reachable(AMQP_URL, 5672):
        require("RabbitMQ", f"nothing listens at {urlparse(AMQP_URL).netloc}")
    return AMQP_URL


SERVICE_QUEUES = ("scheduler", "health", "reporter", "trainer.work", "observer")


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


POSTGRES_ADMIN_URL = os.environ.get(
    "HPO_TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty Postgres database that only this test uses, dropped afterwards."""
    import sqlalchemy as sa

    try:
        import psycopg  # noqa: F401
    except ImportError:
        require("Postgres", "psycopg is not installed (pip install 'hpo[postgres]')")
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError:
        admin.dispose()
        require("Postgres", f"unreachable at {POSTGRES_ADMIN_URL}")
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

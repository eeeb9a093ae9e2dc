"""Real-broker fixtures for the Bus contract suite.

``rabbitmq`` runs against the broker at ``HPO_TEST_AMQP_URL`` (default
``amqp://guest:guest@127.0.0.1:5672/``). Without a reachable broker (or without aio-pika) it
skips, unless ``HPO_REQUIRE_SERVICES=1`` (as in CI), where that is a failure.

Each test gets its own exchange; the queues its buses declared (and their dead-letter queues) and
the exchange are deleted after the test, so the broker is left as it was found.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from services.runtime.bus import Bus, Handler, Subscription
from tests.support.services import AMQP_URL, require_service

_PROBE_TIMEOUT_S = 5.0

_T = TypeVar("_T")


def _run_aside(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine on a private event loop in another thread (fixtures here are sync)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _probe(url: str) -> None:
    import aio_pika

    connection = await asyncio.wait_for(aio_pika.connect(url), timeout=_PROBE_TIMEOUT_S)
    await connection.close()


async def _delete(url: str, exchange: str, queues: Sequence[str]) -> None:
    import aio_pika

    from services.runtime.bus.amqp import dead_letter_queue

    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        for queue in queues:
            await channel.queue_delete(queue)
            await channel.queue_delete(dead_letter_queue(queue))
        await channel.exchange_delete(exchange)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    """The URL of a reachable RabbitMQ (skips or fails as the module docstring says)."""
    try:
        import aio_pika  # noqa: F401
    except ImportError:
        require_service("RabbitMQ", "aio-pika is not installed: pip install 'hpo[amqp]'")
    try:
        _run_aside(_probe(AMQP_URL))
    except Exception as exc:
        require_service("RabbitMQ", f"unreachable at {AMQP_URL}: {type(exc).__name__}: {exc}")
    return AMQP_URL


@dataclass
class AmqpSandbox:
    """One test's exchange, and the queues its buses declared."""

    url: str
    exchange: str = field(default_factory=lambda: f"contract.hpo.events.{uuid.uuid4().hex[:12]}")
    queues: set[str] = field(default_factory=set)

    def new_bus(self) -> Bus:
        from services.runtime.bus.amqp import AmqpBus

        sandbox = self

        class TrackedAmqpBus(AmqpBus):
            # AmqpBus.subscribe returns its private _Consumer; the suite only needs a Subscription.
            async def subscribe(  # type: ignore[override]
                self, queue: str, bindings: Sequence[str], handler: Handler, **options: Any
            ) -> Subscription:
                sandbox.queues.add(queue)
                return await super().subscribe(queue, bindings, handler, **options)

            async def declare(self, queues: Mapping[str, Sequence[str]]) -> None:
                sandbox.queues.update(queues)
                await super().declare(queues)

        return TrackedAmqpBus(self.url, exchange=self.exchange, retry_backoff_seconds=0.0)  # semantics, not timing

    def clean_up(self) -> None:
        _run_aside(_delete(self.url, self.exchange, sorted(self.queues)))


@pytest.fixture
def amqp_sandbox(rabbitmq_url: str) -> Iterator[AmqpSandbox]:
    sandbox = AmqpSandbox(rabbitmq_url)
    yield sandbox
    sandbox.clean_up()

"""A message that kills every process that handles it (the scheduler killed for memory by a huge grid,
say) ends in the dead-letter queue after the bounded number of deliveries, with the reason, instead of
being redelivered forever: each death counts as a delivery."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from contracts.events import StudyStopRequested, StudyStopRequestedData
from services.runtime.bus.amqp import AmqpBus

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
MAX_DELIVERIES = 3

DYING_CONSUMER = textwrap.dedent(
    """
    import asyncio, os, sys
    from services.runtime.bus.amqp import AmqpBus

    async def main(url, exchange, prefix, max_deliveries):
        bus = AmqpBus(url, exchange=exchange, queue_prefix=prefix, retry_backoff_seconds=0)
        await bus.start()
        done = asyncio.Event()

        async def die(event):
            print("handling", event.id, flush=True)
            os._exit(9)  # as the out-of-memory killer would: no ack, no goodbye

        await bus.subscribe("victim", ["study.stop_requested"], die, max_deliveries=int(max_deliveries))
        try:
            await asyncio.wait_for(done.wait(), timeout=5)
        except TimeoutError:
            print("nothing to handle", flush=True)
        await bus.close()

    asyncio.run(main(*sys.argv[1:]))
    """
)


async def test_a_message_that_kills_its_consumer_is_dead_lettered(amqp_url: str, sandbox: dict[str, str]) -> None:
    publisher = AmqpBus(amqp_url, exchange=sandbox["exchange"], queue_prefix=sandbox["prefix"])
    await publisher.start()
    await publisher.declare({"victim": ["study.stop_requested"]})
    poison = StudyStopRequested(source="test", study_id="s1", data=StudyStopRequestedData())
    await publisher.publish(poison)
    outputs = []
    try:
        for _ in range(MAX_DELIVERIES + 2):
            arguments = [amqp_url, sandbox["exchange"], sandbox["prefix"], str(MAX_DELIVERIES)]
            run = subprocess.run(
                [sys.executable, "-c", DYING_CONSUMER, *arguments], cwd=REPO, capture_output=True, text=True, timeout=60
            )
            outputs.append((run.returncode, run.stdout))
        letters = await publisher.dead_letters("victim")
    finally:
        await publisher.close()
    deaths = [code for code, out in outputs if code == 9]
    assert len(deaths) == MAX_DELIVERIES, outputs
    assert outputs[-1] == (0, "nothing to handle\n"), "after the last death the message is gone from the queue"
    (letter,) = letters
    assert letter.deliveries == MAX_DELIVERIES
    assert "delivered before and never settled" in letter.reason and poison.id in letter.body.decode()

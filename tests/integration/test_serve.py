"""`hpo serve <service>` as its own process on the real RabbitMQ: probes, metrics, events, graceful stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from contracts.events import Event, TrialHealthAssessed
from contracts.topology import DURABLE_QUEUES
from services.runtime.bus.amqp import AmqpBus
from tests.support.events import epoch_completed
from tests.support.http import http_get
from tests.support.ports import free_port
from tests.support.telemetry import epoch_telemetry, layer_telemetry
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


async def test_a_served_health_service_handles_events_reports_metrics_and_stops_on_sigterm(
    amqp_url: str, sandbox: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "HPO_AMQP_URL": amqp_url,
        "HPO_EXCHANGE": sandbox["exchange"],
        "HPO_QUEUE_PREFIX": sandbox["prefix"],
        "HPO_HTTP_PORT": str(port),
        "HPO_HTTP_HOST": "127.0.0.1",
        "HPO_DEVELOPMENT": "true",  # the local RabbitMQ's guest user
    }
    log = (tmp_path / "health.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli.main", "serve", "health"], cwd=REPO, env=env, stdout=log, stderr=log
    )
    bus = AmqpBus(amqp_url, exchange=sandbox["exchange"], queue_prefix=sandbox["prefix"])
    await bus.start()
    try:
        await eventually(
            lambda: http_get(port, "/readyz")[0] == 200, "the service to be ready", timeout=30, interval=0.1
        )
        assert http_get(port, "/healthz") == (200, "ok\n")
        assessed: list[Event] = []

        async def observe(event: Event) -> None:
            if isinstance(event, TrialHealthAssessed):
                assessed.append(event)

        await bus.subscribe("observer", ["trial.health_assessed"], observe, prefetch=10)
        telemetry = epoch_telemetry(
            1,
            loss=0.9,
            accuracy=0.6,
            val_loss=1.0,
            val_accuracy=0.55,
            epoch_seconds=2.5,
            layers=[layer_telemetry("dense", parameter_count=100, gradient_norm=0.3)],
        )
        await bus.publish_raw("trial.epoch_completed", b"{not json")  # dead-lettered; the service goes on
        await bus.publish(epoch_completed("s", "t0", telemetry, trainer_id="t", trial_number=0, max_epochs=3))

        await eventually(lambda: bool(assessed), "a health assessment", timeout=30)
        handled = 'hpo_events_handled_total{queue="health",service="health",type="trial.epoch_completed"} 1.0'
        await eventually(
            lambda: handled in http_get(port, "/metrics")[1], "the handled event in /metrics", timeout=30, interval=0.1
        )
        assert (
            'hpo_events_published_total{service="health",type="trial.health_assessed"}' in http_get(port, "/metrics")[1]
        )
        queue = f"{sandbox['prefix']}health"
        dead = f'hpo_messages_dead_lettered_total{{cause="malformed",queue="{queue}",service="health"}} 1.0'
        assert dead in http_get(port, "/metrics")[1]
        assert http_get(port, "/nope")[0] == 404
        await _every_durable_queue_is_declared(amqp_url, sandbox["prefix"])
    finally:
        await bus.close()
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
            log.close()
    assert code == 0, (tmp_path / "health.log").read_text()[-2000:]


async def _every_durable_queue_is_declared(amqp_url: str, prefix: str) -> None:
    """A served service declares the whole topology: a trial requested before any trainer ever ran waits."""
    import aio_pika

    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for queue in DURABLE_QUEUES:
            declared = await channel.declare_queue(prefix + queue, passive=True)
            assert declared.declaration_result.consumer_count == (1 if queue == "health" else 0)

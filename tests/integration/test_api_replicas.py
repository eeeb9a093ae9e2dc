"""`hpo serve api` as two processes on the real RabbitMQ and Postgres: each replica streams every
event of its listeners' jobs (its own exclusive queue), studies do not mix, and POST /optimize
reaches the broker."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import IO

import httpx
import pytest

from contracts.events import Event, StudyCreated
from services.runtime.bus.amqp import AmqpBus
from tests.support.bus import collect_events
from tests.support.events import STREAMED_KINDS, end_events, trial_events
from tests.support.http import AUTH, TOKEN, http_get, is_ready
from tests.support.ports import free_port
from tests.support.read_models import migrated_repository, seed_study
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _start_replica(env: dict[str, str], log: IO[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli.main", "serve", "api"], cwd=REPO, env=env, stdout=log, stderr=log
    )


def _healthy(port: int) -> bool:
    return http_get(port, "/health")[0] == 200


async def _read_until_end(lines: AsyncIterator[str]) -> list[tuple[str, dict[str, object]]]:
    """(event, data) frames after the snapshot (whose ``event:`` line the caller has read), up to ``end``."""
    frames: list[tuple[str, dict[str, object]]] = []
    kind = "snapshot"
    async for line in lines:
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            if kind != "snapshot":
                frames.append((kind, json.loads(line.removeprefix("data: "))))
            if kind == "end":
                return frames
    return frames


async def test_two_replicas_stream_their_jobs_events(
    amqp_url: str, sandbox: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    repo = migrated_repository(postgres_url)
    seed_study(repo, "s1")
    seed_study(repo, "s2")
    repo.engine.dispose()
    api_ports = [free_port(), free_port()]
    probe_ports = [free_port(), free_port()]
    processes = []
    logs = []
    for i in range(2):
        env = {
            **os.environ,
            "HPO_AMQP_URL": amqp_url,
            "HPO_EXCHANGE": sandbox["exchange"],
            "HPO_QUEUE_PREFIX": sandbox["prefix"],
            "HPO_HTTP_HOST": "127.0.0.1",
            "HPO_HTTP_PORT": str(probe_ports[i]),
            "HPO_API_TOKEN": TOKEN,
            "HPO_API_PORT": str(api_ports[i]),
            "HPO_DATABASE_URL": postgres_url,
            "HPO_DEVELOPMENT": "true",  # the local RabbitMQ's guest user
            "HPO_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
        }
        logs.append((tmp_path / f"api{i}.log").open("w"))
        processes.append(_start_replica(env, logs[-1]))
    publisher = AmqpBus(amqp_url, exchange=sandbox["exchange"], queue_prefix=sandbox["prefix"])
    await publisher.start()
    try:
        created = await collect_events(publisher, "observer", ["study.created"], prefetch=10)
        for port in probe_ports:
            await eventually(partial(is_ready, port), f"the replica's probe on {port}", timeout=30, interval=0.1)
        for port in api_ports:
            await eventually(partial(_healthy, port), f"the API on {port}", timeout=30, interval=0.1)

        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_ports[0]}", timeout=30, headers=AUTH) as a,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_ports[1]}", timeout=30, headers=AUTH) as b,
            a.stream("GET", "/jobs/s1/events") as a1,
            b.stream("GET", "/jobs/s1/events") as b1,
            b.stream("GET", "/jobs/s2/events") as b2,
        ):
            streams = [a1.aiter_lines(), b1.aiter_lines(), b2.aiter_lines()]
            for lines in streams:
                assert await anext(lines) == "event: snapshot"

            accepted = await a.post("/optimize", json={"dataset": "digits", "trials": 2}, headers=AUTH)
            assert accepted.status_code == 202, accepted.text
            no_token = {"Authorization": ""}
            assert (await b.post("/optimize", json={"dataset": "digits"}, headers=no_token)).status_code == 401

            events: list[Event] = [*trial_events("s1", 3), *trial_events("s2", 9), *end_events("s1")]
            for event in events:
                await publisher.publish(event)
            one, two = await asyncio.wait_for(
                asyncio.gather(_read_until_end(streams[0]), _read_until_end(streams[1])), timeout=30
            )
            for frames in (one, two):
                assert [kind for kind, _ in frames] == STREAMED_KINDS
                assert all(data.get("study_id") == "s1" for kind, data in frames if kind != "end")

            for event in end_events("s2"):
                await publisher.publish(event)
            other = await asyncio.wait_for(_read_until_end(streams[2]), timeout=30)
            other_kinds = [kind for kind, _ in other]
            assert other_kinds == STREAMED_KINDS
            assert {data.get("study_id") for kind, data in other if kind != "end"} == {"s2"}

        await eventually(lambda: any(isinstance(e, StudyCreated) for e in created), "study.created", timeout=30)
        assert created[0].study_id == accepted.json()["job_id"]
    finally:
        await publisher.close()
        for process in processes:
            process.send_signal(signal.SIGTERM)
        codes = []
        for process in processes:
            try:
                codes.append(process.wait(timeout=20))
            finally:
                if process.poll() is None:
                    process.kill()
        for log in logs:
            log.close()
    assert codes == [0, 0], [p.read_text() for p in sorted(tmp_path.glob("api*.log"))]

"""The manifests run: docker-compose.yml and the rendered dev overlay, each container of every hpo service
started as a local process with the manifest's command and environment, on this machine's RabbitMQ (the
manifest's own broker users, rendered by its broker's render-definitions.sh and imported into a vhost of this
test), a scratch Postgres database and the ``s3_server`` fixture. It waits for the probes the manifest
declares (compose: the image's HEALTHCHECK command; Kubernetes: the probes' paths on the ports they name),
submits a small study through the API with the manifest's token, and fetches its results ZIP.

The test changes only what must differ on this machine (tests/deploy/local.py: addresses, ports, paths), and
runs the trainers in synthetic mode (HPO_TRAINER_MODE, which both manifests set) with a few test values that
the services' settings read."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import subprocess
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from services.reporter.settings import ReporterSettings
from services.trainer.settings import TrainerSettings
from tests.deploy.broker_users import BrokerUsers, imported, render_definitions
from tests.deploy.local import Places, free_ports, hpo_command, process_env, variables_of
from tests.deploy.manifests import REPO, Container, compose_containers, container_env, load_compose, named
from tests.support.http import http_get
from tests.support.s3 import S3Server
from tests.support.services import AMQP_URL, reachable, require_service
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TEST_VALUES = {
    "trainer": {"HPO_TRAINER_MODE": "synthetic", "HPO_TRAINER_SYNTHETIC_SECONDS": "0.2"},
    "reporter": {"HPO_REPORTER_PLOT_WORKERS": "1"},
}
STUDY = {"dataset": "digits", "mode": "health", "trials": 3, "max_epochs": 2, "pruner": "none", "seed": 3}
READY_TIMEOUT_SECONDS = 90
STUDY_TIMEOUT_SECONDS = 180


@dataclass
class Started:
    container: Container
    env: dict[str, str]
    ports: dict[str, int]
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Deployment:
    """The hpo containers of one manifest, running here."""

    places: Places
    started: list[Started] = field(default_factory=list)

    def run_job(self, container: Container) -> None:
        env, _ = self._env(container)
        result = subprocess.run(
            self._argv(container), env=env, cwd=self._workdir(container), capture_output=True, text=True, timeout=180
        )
        assert result.returncode == 0, f"{container.workload}: {' '.join(container.argv)} failed:\n{result.stderr}"

    def start(self, container: Container) -> Started:
        env, ports = self._env(container)
        log = self.places.root / f"{container.workload}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                self._argv(container), env=env, cwd=self._workdir(container), stdout=out, stderr=subprocess.STDOUT
            )
        started = Started(container, env, ports, process, log)
        self.started.append(started)
        return started

    def stop(self) -> dict[str, int | None]:
        for started in self.started:
            if started.process.poll() is None:
                started.process.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for started in self.started:
            try:
                codes[started.container.workload] = started.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                started.process.kill()
                codes[started.container.workload] = None
        return codes

    def _env(self, container: Container) -> tuple[dict[str, str], dict[str, int]]:
        ports = free_ports()
        env = process_env(container, self.places, ports)
        return env | TEST_VALUES.get(container.service, {}), ports

    def _argv(self, container: Container) -> list[str]:
        assert container.argv[0] == "hpo", container.argv
        return [*hpo_command(), *container.argv[1:]]

    def _workdir(self, container: Container) -> str:
        workdirs = [i.arguments for i in container.dockerfile.instructions if i.keyword == "WORKDIR"]
        return self.places.path(workdirs[-1])


def _get(port: int, path: str, token: str) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _post(port: int, path: str, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


async def _dead_letter_a_malformed_event(users: BrokerUsers) -> list[str]:
    """Each consumer of the event moves it to its dead-letter queue through the default exchange, as its own
    user: the permissions allow what a failing handler does, not only the happy path."""
    import aio_pika

    from contracts.topology import DURABLE_QUEUES
    from services.runtime.bus.amqp import dead_letter_queue

    consumers = [queue for queue, keys in DURABLE_QUEUES.items() if "trial.epoch_completed" in keys]
    connection = await aio_pika.connect(users.admin_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange("hpo.events")
        await exchange.publish(aio_pika.Message(b"{not json"), routing_key="trial.epoch_completed")

        async def dead_lettered() -> bool:
            for queue in consumers:
                declared = await channel.declare_queue(dead_letter_queue(queue), passive=True)
                if not declared.declaration_result.message_count:
                    return False
            return True

        await eventually(dead_lettered, "the malformed event in every consumer's dead-letter queue", timeout=30)
    return [dead_letter_queue(queue) for queue in consumers]


def _healthcheck_passes(started: Started) -> bool:
    """The image's HEALTHCHECK command (``python -c ...``) with the container's environment."""
    command = [part if part != "python" else hpo_command()[0] for part in started.container.healthcheck]
    return subprocess.run(command, env=started.env, capture_output=True, timeout=10).returncode == 0


async def _wait_for_probes(started: Started) -> list[str]:
    """Wait for what the manifest declares; returns what was checked (for the test's output)."""
    container, port = started.container, started.ports["HPO_HTTP_PORT"]
    checked = []
    if container.healthcheck:
        assert any("/healthz" in part and "HPO_HTTP_PORT" in part for part in container.healthcheck)
        await eventually(
            lambda: _healthcheck_passes(started),
            f"{container.workload}'s HEALTHCHECK",
            timeout=READY_TIMEOUT_SECONDS,
            interval=0.5,
        )
        checked.append(f"HEALTHCHECK on HPO_HTTP_PORT={container.env['HPO_HTTP_PORT']}")
    paths = []
    for kind, probe in container.probes.items():
        assert probe.port == int(container.env["HPO_HTTP_PORT"]), f"{container.workload} {kind} port {probe.port}"
        paths.append(probe.path)
        checked.append(f"{kind} {probe.path}:{probe.port}")
    for path in [*paths, "/readyz"]:
        await eventually(
            _answers(port, path), f"{container.workload} {path}", timeout=READY_TIMEOUT_SECONDS, interval=0.3
        )
    return checked


def _answers(port: int, path: str) -> Callable[[], bool]:
    return lambda: http_get(port, path)[0] == 200


def _compose_broker(compose: dict[str, Any]) -> tuple[list[str], dict[str, str], dict[str, Path]]:
    broker = compose["services"]["rabbitmq"]
    render_step = broker["entrypoint"][-1].split("&&")[0].split()
    volumes = {}
    for volume in broker["volumes"]:
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            volumes[target] = REPO / source
    return ["/bin/sh", *render_step], dict(broker["environment"]), volumes


def _k8s_broker(objects: list[dict[str, Any]], scratch: Path) -> tuple[list[str], dict[str, str], dict[str, Path]]:
    broker = named(objects, "StatefulSet", "rabbitmq")["spec"]["template"]["spec"]
    (init,) = broker["initContainers"]
    volumes = {}
    for mount in init["volumeMounts"]:
        (volume,) = [v for v in broker["volumes"] if v["name"] == mount["name"]] or [None]
        folder = scratch / mount["name"]
        folder.mkdir()
        if volume is not None and "configMap" in volume:
            for name, text in named(objects, "ConfigMap", volume["configMap"]["name"])["data"].items():
                (folder / name).write_text(text)
        volumes[mount["mountPath"]] = folder
    return list(init["command"]), container_env(objects, init), volumes


@pytest.mark.parametrize("manifest", ["docker-compose.yml", "k8s/overlays/dev"])
async def test_the_manifests_services_run_a_study_and_its_zip_comes_back(
    manifest: str,
    containers_of: Callable[[str], list[Container]],
    rendered: dict[str, list[dict[str, Any]]],
    dotenv: dict[str, str],
    s3_server: S3Server,
    s3_bucket: str,
    postgres_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if not reachable(AMQP_URL, 5672):
        require_service("RabbitMQ", "nothing listens at 127.0.0.1:5672")
    for service, values in TEST_VALUES.items():
        settings = TrainerSettings if service == "trainer" else ReporterSettings
        assert set(values) <= variables_of(settings), f"a test value for {service} is not one of its settings"
    if manifest == "docker-compose.yml":
        compose = load_compose(dotenv)
        containers = compose_containers(compose)
        render_argv, render_env, volumes = _compose_broker(compose)
    else:
        containers = containers_of(manifest)
        render_argv, render_env, volumes = _k8s_broker(rendered["dev"], tmp_path)
    assert all("HPO_TRAINER_MODE" in c.env for c in containers if c.service == "trainer")
    definitions = render_definitions(render_argv, render_env, volumes, tmp_path / "rendered.json")
    word = uuid.uuid4().hex[:8]
    with imported(definitions, word) as users:
        lines = await _run(manifest, containers, users, s3_server, s3_bucket, postgres_url, tmp_path / "root")
    with capsys.disabled():
        print("\n" + "\n".join(lines))


async def _run(
    manifest: str,
    containers: list[Container],
    users: BrokerUsers,
    s3_server: S3Server,
    s3_bucket: str,
    postgres_url: str,
    root: Path,
) -> list[str]:
    places = Places(root, s3_server.endpoint, s3_bucket, postgres_url, users.vhost, users.suffix)
    deployment = Deployment(places)
    lines = [f"{manifest}: broker vhost {users.vhost}, users {', '.join(users.users)}"]
    running = [c for c in containers if c.service != "migrate"]
    (migrate,) = [c for c in containers if c.service == "migrate"]
    deployment.run_job(migrate)
    lines.append(f"  {migrate.workload}: {' '.join(migrate.argv)} exited 0")
    try:
        started = [deployment.start(container) for container in running]
        checked = await asyncio.gather(*(_wait_for_probes(s) for s in started))
        for each, probes in zip(started, checked, strict=True):
            lines.append(f"  {each.container.workload}: {' '.join(each.container.argv)}; {'; '.join(probes)}")
        (api,) = [s for s in started if s.container.service == "api"]
        token, port = api.container.env["HPO_API_TOKEN"], api.ports["HPO_API_PORT"]
        name = f"deploy-{manifest.replace('/', '-').replace('.', '-')}"
        status, accepted = _post(port, "/optimize", token, {**STUDY, "study_name": name})
        assert status == 202, accepted
        job_id = accepted["job_id"]

        def finished() -> bool:
            status, body = _get(port, f"/jobs/{job_id}", token)
            return status == 200 and json.loads(body)["state"] == "completed"

        await eventually(finished, f"study {name} to complete", timeout=STUDY_TIMEOUT_SECONDS, interval=0.5)
        bundle: list[bytes] = []

        def downloaded() -> bool:
            status, body = _get(port, f"/jobs/{job_id}/download", token)
            if status == 200:
                bundle.append(body)
            return status == 200

        await eventually(downloaded, f"the results ZIP of {name}", timeout=60, interval=0.5)
        entries = zipfile.ZipFile(io.BytesIO(bundle[0])).namelist()
        assert any(e.endswith("report.md") for e in entries) and any(e.endswith("trials.csv") for e in entries)
        _, job = _get(port, f"/jobs/{job_id}", token)
        dead = await _dead_letter_a_malformed_event(users)
        lines.append(f"  a malformed trial.epoch_completed went to {', '.join(dead)} (each consumer's own user)")
        counts = json.loads(job)["counts"]
        lines.append(
            f"  study {name} ({job_id}): completed, trials {counts}; ZIP {len(bundle[0])} bytes, {len(entries)} files"
        )
    finally:
        codes = deployment.stop()
    tails = {s.container.workload: s.log.read_text(errors="replace")[-1500:] for s in deployment.started}
    assert all(code == 0 for code in codes.values()), (codes, tails)
    lines.append(f"  stopped with SIGTERM: {codes}")
    return lines

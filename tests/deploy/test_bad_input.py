"""A manifest missing a required variable, or holding .env.example's placeholders, fails at start with the
service's one-line message naming the variable (exit 2, no traceback): shown for each service, as a process
started with the manifest's command. Which variables are required is found, not listed: every variable of a
container whose removal its settings refuse. The secrets script and the broker's renderer refuse bad input
the same way."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from services.runtime.errors import UserInputError
from tests.deploy.local import Places, free_ports, hpo_command, local_env, only_env, process_env, settings_built_by
from tests.deploy.manifests import REPO, Container, compose_containers, load_compose, read_env_file
from tests.support.s3 import S3Server

SHOWN = {  # the variable whose absence each service's process shows (one of those found required)
    "scheduler": "HPO_AMQP_URL",
    "health": "HPO_AMQP_URL",
    "reporter": "HPO_S3_ACCESS_KEY",
    "api": "HPO_API_TOKEN",
    "trainer": "HPO_S3_SECRET_KEY",
}
PLACEHOLDER_REFUSALS = {  # .env.example as it is: what each service refuses first
    "scheduler": "HPO_AMQP_URL uses RabbitMQ's well-known guest password",
    "health": "HPO_AMQP_URL uses RabbitMQ's well-known guest password",
    "reporter": "HPO_S3_ACCESS_KEY is a well-known default",
    "api": "HPO_API_TOKEN is a well-known default",
    "trainer": "HPO_S3_ACCESS_KEY is a well-known default",
}


async def _required(container: Container, places: Places, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Variable -> the refusal, for every variable of the container whose removal its service refuses."""
    env = local_env(container, places, free_ports())
    refused = {}
    for variable in sorted(env):
        with only_env(monkeypatch, {k: v for k, v in env.items() if k != variable}):
            try:
                await settings_built_by(container.argv[1:], monkeypatch)
            except UserInputError as exc:
                refused[variable] = str(exc)
        monkeypatch.undo()
    return refused


def _refusal(container: Container, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    result = subprocess.run(
        [*hpo_command(), *container.argv[1:]], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    return result.returncode, result.stderr


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (INFO|WARNING) ")


def _assert_one_line(stderr: str, naming: str) -> str:
    """The refusal: one ``error:`` line naming the variable, hints indented below it (log lines aside)."""
    lines = [line for line in stderr.splitlines() if line.strip() and not LOG_LINE.match(line)]
    assert "Traceback" not in stderr, stderr
    assert lines and lines[0].startswith("error: ") and naming in lines[0], stderr
    assert all(line.startswith("  ") for line in lines[1:]), stderr
    return lines[0]


@pytest.mark.parametrize("manifest", ["docker-compose.yml", "k8s/overlays/dev"])
async def test_a_missing_required_variable_stops_each_service_with_a_line_naming_it(
    manifest: str,
    containers_of: Callable[[str], list[Container]],
    s3_server: S3Server,
    s3_bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shown = []
    by_service = {c.service: c for c in containers_of(manifest)}
    for service, container in sorted(by_service.items()):
        places = Places(tmp_path / service, s3_server.endpoint, s3_bucket)
        required = await _required(container, places, monkeypatch)
        for variable, message in required.items():
            assert variable in message, (service, variable, message)
        if service == "migrate":
            assert required == {}  # without HPO_DATABASE_URL it migrates its default SQLite file
            continue
        assert "HPO_AMQP_URL" in required, service
        variable = SHOWN[service]
        assert variable in required, (service, sorted(required))
        env = {k: v for k, v in process_env(container, places, free_ports()).items() if k != variable}
        code, stderr = _refusal(container, env, places.root)
        assert code == 2, stderr
        shown.append(f"  {container.workload} without {variable}: {_assert_one_line(stderr, variable)}")
        shown.append(f"    (required here: {', '.join(sorted(required))})")
    with capsys.disabled():
        print(f"\n{manifest}:\n" + "\n".join(shown))


async def test_env_example_as_it_is_starts_no_service(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = read_env_file(REPO / ".env.example")
    empty = {k: v for k, v in example.items() if not v and "PASSWORD" in k}
    assert empty == {"POSTGRES_PASSWORD": "", "GRAFANA_ADMIN_PASSWORD": ""}  # compose refuses these itself
    containers = compose_containers(load_compose({**example, **{k: "filled-in-by-hand" for k in empty}}))
    shown = []
    for container in containers:
        if container.service not in PLACEHOLDER_REFUSALS:
            continue
        places = Places(tmp_path / container.workload, s3_server.endpoint, s3_bucket)
        code, stderr = _refusal(container, process_env(container, places, free_ports()), places.root)
        assert code == 2, stderr
        line = _assert_one_line(stderr, PLACEHOLDER_REFUSALS[container.service])
        shown.append(f"  {container.workload}: {line}")
    assert len(shown) == 6  # scheduler, health, reporter, api, trainer, trainer-gpu
    with capsys.disabled():
        print("\n.env.example as it is:\n" + "\n".join(shown))


def _script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "deploy" / "make_secrets.py"), *args],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip


def test_the_secrets_script_refuses_to_overwrite_or_to_guess(tmp_path: Path) -> None:
    (tmp_path / ".env.example").write_text((REPO / ".env.example").read_text())
    assert _script("compose", "--root", str(tmp_path)).returncode == 0
    written = read_env_file(tmp_path / ".env")
    for key in ("BROKER_SCHEDULER_PASSWORD", "POSTGRES_PASSWORD", "HPO_S3_ACCESS_KEY", "HPO_API_TOKEN"):
        assert len(written[key]) >= 24 and written[key] not in ("guest", "minioadmin", "changethis"), key
    assert written["HPO_S3_BUCKET"] == "hpo-artifacts" and (tmp_path / ".env").stat().st_mode & 0o077 == 0
    again = _script("compose", "--root", str(tmp_path))
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "--force" in again.stderr
    prod = _script("k8s", "prod", "--root", str(tmp_path), env={"PATH": "/usr/bin:/bin"})
    assert prod.returncode == 2 and prod.stderr.count("\n") == 1 and "--amqp-url" in prod.stderr


def test_the_brokers_renderer_refuses_a_missing_password(tmp_path: Path) -> None:
    script, template = (
        REPO / "deploy/rabbitmq/render-definitions.sh",
        REPO / "deploy/rabbitmq/definitions.template.json",
    )
    result = subprocess.run(
        ["/bin/sh", str(script), str(template), str(tmp_path / "out.json")],
        env={"PATH": "/usr/bin:/bin", "BROKER_ADMIN_PASSWORD": "x" * 20}, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert re.fullmatch(r"rabbitmq: BROKER_[A-Z]+_PASSWORD is not set; .*\n", result.stderr)
    assert "BROKER_ADMIN_PASSWORD" not in result.stderr and not (tmp_path / "out.json").exists()

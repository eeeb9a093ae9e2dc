"""docker-compose.yml: valid against the compose-spec schema and clean for dclint (npm), healthchecks on the
infrastructure and start-up order by ``depends_on`` conditions, the GPU trainer under its profile, MinIO's
last image by digest, .env.example holding every variable the file reads, and the same commands, probe port
and variables per service as the Kubernetes manifests."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import (
    COMPOSE_FILE,
    REPO,
    Container,
    compose_variables,
    is_hpo_image,
    load_compose,
    read_env_file,
)

DCLINT_CONFIG = REPO / "deploy" / "tools" / "dclint.yaml"
INFRASTRUCTURE = ("rabbitmq", "postgres", "s3")
MONITORING = ("prometheus", "grafana")


def _dclint(npm_tools: Path, path: Path) -> subprocess.CompletedProcess[str]:
    command = [str(npm_tools / ".bin" / "dclint"), "-c", str(DCLINT_CONFIG), "--max-warnings", "0", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.fixture
def compose(dotenv: dict[str, str]) -> dict[str, Any]:
    return load_compose(dotenv)


def test_dclint_accepts_the_compose_file_against_the_compose_spec(npm_tools: Path, tmp_path: Path) -> None:
    result = _dclint(npm_tools, COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(
        COMPOSE_FILE.read_text().replace('    restart: "no"\n', '    restart: "no"\n    retsart: always\n')
    )
    result = _dclint(npm_tools, broken)
    assert result.returncode != 0 and "invalid-schema" in result.stdout  # the schema check is on


def test_the_infrastructure_has_healthchecks_and_the_services_wait_for_it(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in INFRASTRUCTURE:
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    for name, service in services.items():
        if name in INFRASTRUCTURE + MONITORING:
            continue
        waits = {dependency: rule["condition"] for dependency, rule in service["depends_on"].items()}
        if name == "migrate":
            assert waits == {"postgres": "service_healthy"}
            continue
        if name == "ui":
            assert waits == {"api": "service_healthy"}  # the panel talks to the API only
            continue
        assert waits["rabbitmq"] == "service_healthy", name
        if name in ("scheduler", "reporter", "api"):
            assert waits["migrate"] == "service_completed_successfully", name
        if name in ("reporter", "api", "trainer", "trainer-gpu"):
            assert waits["s3"] == "service_healthy", name
    assert services["migrate"]["restart"] == "no"


def test_one_cpu_trainer_by_default_and_a_gpu_trainer_under_the_gpu_profile(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "profiles" not in services["trainer"] and services["trainer"]["image"].split(":")[0] == "hpo-trainer"
    gpu = services["trainer-gpu"]
    assert gpu["profiles"] == ["gpu"] and gpu["image"].split(":")[0] == "hpo-trainer-gpu"
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["capabilities"] == ["gpu"] and device["driver"] == "nvidia"
    assert [n for n, s in services.items() if "profiles" in s] == ["trainer-gpu"]


def test_images_are_pinned_and_minio_by_digest(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service["image"]
        tag = image.split("@")[0].rsplit("/", 1)[-1].partition(":")[2]
        assert tag and tag != "latest", name
    assert re.fullmatch(r"minio/minio:RELEASE\.[0-9TZ-]+@sha256:[0-9a-f]{64}", compose["services"]["s3"]["image"]), (
        "MinIO's archived community server, pinned by digest"
    )


def test_env_example_holds_every_variable_the_compose_file_reads_and_no_other() -> None:
    example = read_env_file(REPO / ".env.example")
    assert set(example) == compose_variables()


def test_a_missing_secret_stops_compose_with_the_variables_name() -> None:
    from tests.deploy.manifests import MissingVariable

    example = read_env_file(REPO / ".env.example")
    empty = {name for name, value in example.items() if name.endswith("PASSWORD") and not value}
    assert empty == {"POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"}
    for name in sorted(empty):  # each empty password stops compose by its name, whichever compose meets first
        with pytest.raises(MissingVariable) as refused:
            load_compose({**example, **{other: "x" for other in empty - {name}}})
        assert refused.value.name == name and f"set {name} in .env" in str(refused.value)


def test_prometheus_scrapes_the_compose_services_and_grafana_is_provisioned_from_the_repository(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name in MONITORING:
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
        assert all(port.startswith("127.0.0.1:") for port in services[name]["ports"]), name
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"
    assert services["grafana"]["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "false"

    mounts = {
        name: {volume.split(":")[1]: volume.split(":")[0] for volume in services[name]["volumes"]}
        for name in MONITORING
    }
    prometheus_dir = REPO / mounts["prometheus"]["/etc/prometheus"]
    config = yaml.safe_load((prometheus_dir / "prometheus.yml").read_text())
    assert all((prometheus_dir / rule_file).is_file() for rule_file in config["rule_files"])
    for job in config["scrape_configs"]:  # every target is a compose service, on the port it serves metrics on
        for target in [t for c in job.get("static_configs", []) for t in c["targets"]] + [
            f"{name}:{c['port']}" for c in job.get("dns_sd_configs", []) for name in c["names"]
        ]:
            host, port = target.split(":")
            assert host in services, (job["job_name"], target)
            if is_hpo_image(services[host].get("image", "")):
                assert services[host]["environment"]["HPO_HTTP_PORT"] == port, target
                assert services[host]["environment"]["HPO_HTTP_HOST"] == "0.0.0.0", target

    grafana = mounts["grafana"]
    provisioning = REPO / grafana["/etc/grafana/provisioning/dashboards"]
    (provider,) = yaml.safe_load((provisioning / "hpo.yaml").read_text())["providers"]
    dashboards = REPO / grafana[provider["options"]["path"]]
    assert {p.stem for p in dashboards.glob("*.json")} >= {"hpo-studies-overview", "hpo-training-live"}
    datasources = REPO / grafana["/etc/grafana/provisioning/datasources"]
    (source,) = yaml.safe_load((datasources / "prometheus.yaml").read_text())["datasources"]
    assert source["url"] == "http://prometheus:9090"


def _per_service(containers: list[Container]) -> dict[str, tuple[list[str], frozenset[str]]]:
    per_service: dict[str, tuple[list[str], frozenset[str]]] = {}
    for container in containers:
        seen = (container.argv, frozenset(container.env))
        assert per_service.setdefault(container.service, seen) == seen, container.workload
    return per_service


def test_compose_and_kubernetes_run_the_same_commands_with_the_same_variables(
    containers_of: Callable[[str], list[Container]],
) -> None:
    compose, dev = containers_of("docker-compose.yml"), containers_of("k8s/overlays/dev")
    assert _per_service(compose) == _per_service(dev)
    for container in [*compose, *dev]:
        assert is_hpo_image(container.image), container.image
        if container.service != "migrate":
            assert container.env["HPO_HTTP_HOST"] == "0.0.0.0" and container.env["HPO_HTTP_PORT"] == "9100"

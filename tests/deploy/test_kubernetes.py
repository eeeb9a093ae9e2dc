"""The Kubernetes manifests: every overlay renders with ``kubectl kustomize``; every built-in object passes
``kubernetes-validate`` in strict mode for the newest Kubernetes it knows; the KEDA objects pass KEDA's
published CRD schemas (npm ``@kubernetes-models/keda``); and policies on the rendered YAML: GPU limits on GPU
trainers, probes on ports the containers declare, no ``latest``, no Secret values in the repository, requests
and limits, non-root pods, NetworkPolicies (trainers reach only the broker and S3, only the API is exposed),
and a ScaledObject that counts unacknowledged messages."""

from __future__ import annotations

import base64
import copy
import json
import re
import subprocess
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from contracts.topology import TRAINER_WORK_QUEUE
from tests.deploy.manifests import (
    OVERLAYS,
    REPO,
    by_kind,
    container_env,
    dockerfiles,
    image_repository,
    is_hpo_image,
    k8s_containers,
    kubectl,
    named,
    pod_templates,
)
from tests.support.services import require_service

KUBERNETES_VERSION = kubernetes_validate.latest_version()
GPU_OVERLAYS = ("gpu", "prod")
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def _all_containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def test_the_base_renders_on_its_own() -> None:
    if kubectl() is None:
        require_service("kubectl", "not on PATH")
    result = subprocess.run(
        [kubectl() or "kubectl", "kustomize", str(REPO / "k8s" / "base")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "kind: ScaledObject" in result.stdout


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_renders(
    overlay: str, rendered: dict[str, list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    objects = rendered[overlay]
    kinds = Counter(o["kind"] for o in objects)
    with capsys.disabled():
        print(f"\nk8s/overlays/{overlay}: {len(objects)} objects: {dict(sorted(kinds.items()))}")
    assert {"Deployment", "Job", "ConfigMap", "Secret", "NetworkPolicy", "ScaledObject"} <= set(kinds)
    deployments = {o["metadata"]["name"] for o in by_kind(objects, "Deployment")}
    assert {name for name in deployments if name.startswith("hpo-")} == {
        "hpo-scheduler", "hpo-health", "hpo-reporter", "hpo-api", "hpo-trainer", "hpo-ui"
    }  # fmt: skip
    assert deployments - {name for name in deployments if name.startswith("hpo-")} == (
        {"prometheus", "grafana"} if overlay != "prod" else set()
    )
    assert all(o["metadata"].get("namespace") == "hpo" for o in objects if o["kind"] != "Namespace")
    in_cluster = {o["metadata"]["name"] for o in by_kind(objects, "StatefulSet")}
    assert in_cluster == ({"rabbitmq", "postgres", "s3"} if overlay != "prod" else set())
    assert bool(by_kind(objects, "PodDisruptionBudget")) == (overlay == "prod")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_built_in_objects_pass_kubernetes_validate_in_strict_mode(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    built_in = [o for o in rendered[overlay] if not o["apiVersion"].startswith("keda.sh/")]
    problems = []
    for item in built_in:
        try:
            kubernetes_validate.validate(item, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{item['kind']}/{item['metadata']['name']}: {exc.message}")
    assert problems == [], f"against Kubernetes {KUBERNETES_VERSION}"
    broken = copy.deepcopy(named(built_in, "Deployment", "hpo-api"))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["prot"] = 9100
    with pytest.raises(kubernetes_validate.ValidationError):  # strict: an unknown field is refused
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def _validate_keda(npm_tools: Path, objects: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
    script = Path(__file__).with_name("validate_keda.mjs")
    result = subprocess.run(
        ["node", str(script), str(npm_tools)], input=json.dumps(objects), capture_output=True, text=True, timeout=60
    )
    return result.returncode, [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_keda_objects_pass_kedas_published_schemas(
    overlay: str, rendered: dict[str, list[dict[str, Any]]], npm_tools: Path
) -> None:
    keda = [o for o in rendered[overlay] if o["apiVersion"].startswith("keda.sh/")]
    assert sorted(o["kind"] for o in keda) == ["ScaledObject", "TriggerAuthentication"]
    code, results = _validate_keda(npm_tools, keda)
    assert code == 0 and all(r["error"] is None for r in results), results
    broken = copy.deepcopy(named(keda, "ScaledObject", "hpo-trainer"))
    broken["spec"]["minReplicaCount"] = "zero"
    code, results = _validate_keda(npm_tools, [broken])
    assert code == 1 and "minReplicaCount" in results[0]["error"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gpu_trainers_ask_for_a_gpu_and_go_to_gpu_nodes(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    trainer = named(rendered[overlay], "Deployment", "hpo-trainer")["spec"]["template"]["spec"]
    (container,) = trainer["containers"]
    gpu = overlay in GPU_OVERLAYS
    assert (image_repository(container["image"]) == "hpo-trainer-gpu") == gpu
    assert (container["resources"]["limits"].get("nvidia.com/gpu") == "1") == gpu
    assert (
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in trainer.get("tolerations", [])
    ) == gpu
    assert (trainer.get("nodeSelector") == {"nvidia.com/gpu.present": "true"}) == gpu
    for _, pod in pod_templates(rendered[overlay]):
        if pod is not trainer:
            assert all("nvidia.com/gpu" not in c["resources"].get("limits", {}) for c in _all_containers(pod))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_probes_healthz_and_readyz_on_a_port_it_declares(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    for workload, pod in pod_templates(rendered[overlay]):
        for container in pod["containers"]:
            declared = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
            for kind in ("livenessProbe", "readinessProbe"):
                probe = container.get(kind)
                if workload["kind"] == "Job":
                    assert probe is None
                    continue
                assert probe, f"{workload['metadata']['name']}: no {kind}"
                port = (probe.get("httpGet") or probe.get("tcpSocket") or {}).get("port")
                assert port is None or port in declared or port in declared.values(), (workload["metadata"], kind)
    for container in k8s_containers(rendered[overlay], overlay):
        if container.service == "migrate":
            continue
        assert container.probes["livenessProbe"].path == "/healthz"
        assert container.probes["readinessProbe"].path == "/readyz"
        assert {p.port for p in container.probes.values()} == {int(container.env["HPO_HTTP_PORT"])}
        assert container.env["HPO_HTTP_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_image_is_latest_and_hpo_images_carry_the_project_version(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    for _, pod in pod_templates(rendered[overlay]):
        for container in _all_containers(pod):
            image = container["image"]
            name, _, digest = image.partition("@")
            tag = name.rsplit("/", 1)[-1].partition(":")[2]
            assert (tag and tag != "latest") or re.fullmatch(r"sha256:[0-9a-f]{64}", digest), image
            if is_hpo_image(image):
                assert tag == VERSION, image


def test_no_secret_value_is_in_the_repository(rendered: dict[str, list[dict[str, Any]]]) -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    assert not [path for path in tracked if "/secrets/" in path or Path(path).name == ".env"]
    for path in tracked:
        if path.startswith("k8s/") and path.endswith(".yaml"):
            text = (REPO / path).read_text()
            assert "kind: Secret" not in text and "stringData" not in text, path
    for folder in ("k8s/overlays/dev/secrets/x.env", "k8s/overlays/prod/secrets/x.env", ".env"):
        ignored = subprocess.run(["git", "check-ignore", "-q", folder], cwd=REPO)
        assert ignored.returncode == 0, f"{folder} is not ignored by git"
    generated = {value for o in by_kind(rendered["dev"], "Secret") for value in _secret_values(o).values()}
    assert generated
    committed = "\n".join((REPO / path).read_text(errors="ignore") for path in tracked if (REPO / path).is_file())
    assert not [value for value in generated if len(value) >= 16 and value in committed]


def _secret_values(secret: dict[str, Any]) -> dict[str, str]:
    return {key: base64.b64decode(value).decode() for key, value in secret.get("data", {}).items()}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_requests_and_limits(overlay: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    for workload, pod in pod_templates(rendered[overlay]):
        for container in _all_containers(pod):
            resources = container.get("resources", {})
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(part, {})), (workload["metadata"]["name"], part)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_as_a_non_root_user_without_privileges(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    for workload, pod in pod_templates(rendered[overlay]):
        security = pod["securityContext"]
        name = workload["metadata"]["name"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] > 0, name
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in _all_containers(pod):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False and context["capabilities"] == {"drop": ["ALL"]}
            if is_hpo_image(container["image"]):
                assert context["readOnlyRootFilesystem"] is True, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_scaled_object_counts_unacknowledged_trials_and_scales_to_zero(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    objects = rendered[overlay]
    scaled = named(objects, "ScaledObject", "hpo-trainer")["spec"]
    assert scaled["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "hpo-trainer"}
    assert scaled["minReplicaCount"] == 0 and scaled["maxReplicaCount"] >= 1
    assert "replicas" not in named(objects, "Deployment", "hpo-trainer")["spec"]  # KEDA owns the count
    (trigger,) = scaled["triggers"]
    metadata = trigger["metadata"]
    assert trigger["type"] == "rabbitmq"
    assert metadata["protocol"] == "http" and metadata["mode"] == "QueueLength"
    assert metadata["excludeUnacknowledged"] == "false"  # ready + unacknowledged (running trials)
    trainer = named(objects, "Deployment", "hpo-trainer")["spec"]["template"]["spec"]["containers"][0]
    env = container_env(objects, trainer)
    prefix = env.get("HPO_QUEUE_PREFIX", "")
    assert metadata["queueName"] == prefix + TRAINER_WORK_QUEUE
    assert metadata["vhostName"] == urlsplit(env["HPO_AMQP_URL"]).path.lstrip("/")
    auth = named(objects, "TriggerAuthentication", trigger["authenticationRef"]["name"])["spec"]
    references = {ref["parameter"]: ref for ref in auth["secretTargetRef"]}
    assert set(references) == {"host", "username", "password"}
    for ref in references.values():
        assert ref["key"] in _secret_values(named(objects, "Secret", ref["name"]))
    monitor = _secret_values(named(objects, "Secret", references["host"]["name"]))
    assert urlsplit(monitor["host"]).scheme in ("http", "https") and monitor["username"] == "hpo-monitor"


def _policies_for(objects: list[dict[str, Any]], labels: dict[str, str], direction: str) -> list[dict[str, Any]]:
    chosen = []
    for policy in by_kind(objects, "NetworkPolicy"):
        spec = policy["spec"]
        selector = spec["podSelector"].get("matchLabels", {})
        if direction in spec["policyTypes"] and all(labels.get(k) == v for k, v in selector.items()):
            chosen.append(policy)
    return chosen


def _allowed(policies: list[dict[str, Any]], direction: str) -> set[tuple[str, int]]:
    """(peer, port) pairs the policies allow; the peer is a pod name label, a namespace, a CIDR or 'any'."""
    allowed = set()
    key = "egress" if direction == "Egress" else "ingress"
    for policy in policies:
        for rule in policy["spec"].get(key, []):
            peers = rule.get("to" if key == "egress" else "from", [])
            names = []
            for peer in peers or [{}]:
                if "ipBlock" in peer:
                    names.append(peer["ipBlock"]["cidr"])
                elif "podSelector" in peer and "namespaceSelector" not in peer:
                    names.append(peer["podSelector"]["matchLabels"].get("app.kubernetes.io/name", "pods"))
                elif "namespaceSelector" in peer:
                    names.append("namespace " + peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"])
                else:
                    names.append("any")
            for name in names:
                for port in rule.get("ports", [{"port": 0}]):
                    allowed.add((name, port["port"]))
    return allowed


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_let_trainers_reach_only_the_broker_and_s3_and_expose_only_the_api(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    objects = rendered[overlay]
    deny = named(objects, "NetworkPolicy", "hpo-default-deny")["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    dns = {("namespace kube-system", 53)}
    expected = (
        {("rabbitmq", 5672), ("s3", 9000)}
        if overlay != "prod"
        else {("0.0.0.0/0", 5671), ("0.0.0.0/0", 5672), ("0.0.0.0/0", 443), ("0.0.0.0/0", 9000)}
    )
    trainer = named(objects, "Deployment", "hpo-trainer")["spec"]["template"]["metadata"]["labels"]
    assert _allowed(_policies_for(objects, trainer, "Egress"), "Egress") == expected | dns
    exposed = []
    for workload, _ in pod_templates(objects):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        ingress = _allowed(_policies_for(objects, labels, "Ingress"), "Ingress")
        if any(peer == "any" for peer, _ in ingress):
            exposed.append(workload["metadata"]["name"])
    assert exposed == ["hpo-api", "hpo-ui"]  # the API and the control panel
    assert _allowed(_policies_for(objects, {"app.kubernetes.io/name": "hpo-api"}, "Ingress"), "Ingress") == {
        ("any", 8000)
    }
    panel = named(objects, "Deployment", "hpo-ui")["spec"]["template"]["metadata"]["labels"]
    assert _allowed(_policies_for(objects, panel, "Ingress"), "Ingress") == {("any", 8501)}
    assert _allowed(_policies_for(objects, panel, "Egress"), "Egress") == {("hpo-api", 8000)} | dns


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_migration_reporter_and_api_get_the_read_models_database(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    for container in k8s_containers(rendered[overlay], overlay):
        assert ("HPO_AMQP_URL" in container.env) == (container.service != "migrate")
        assert ("HPO_DATABASE_URL" in container.env) == (container.service in ("migrate", "reporter", "api"))


def test_the_trainers_grace_period_bounds_a_long_batch_before_the_hand_back(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    for overlay in OVERLAYS:
        (trainer,) = [c for c in k8s_containers(rendered[overlay], overlay) if c.service == "trainer"]
        assert trainer.stop_grace_seconds is not None and trainer.stop_grace_seconds >= 600


MONITORING = REPO / "k8s" / "components" / "monitoring"
MONITORING_SOURCES = {
    "prometheus": REPO / "deploy" / "prometheus",
    "grafana": REPO / "deploy" / "grafana",
    "dashboards": REPO / "dashboards",
}


def test_the_monitoring_components_files_are_the_repositorys() -> None:
    copies = {p.relative_to(MONITORING / "files") for p in (MONITORING / "files").rglob("*") if p.is_file()}
    prometheus, grafana = MONITORING_SOURCES["prometheus"], MONITORING_SOURCES["grafana"]
    sources = {
        *(Path("prometheus") / p.relative_to(prometheus) for p in [prometheus / "prometheus.yml"]),
        *(Path("prometheus") / p.relative_to(prometheus) for p in (prometheus / "rules").glob("*.yml")),
        *(Path("grafana") / p.relative_to(grafana) for p in grafana.rglob("*.yaml")),
        *(Path("dashboards") / p.name for p in MONITORING_SOURCES["dashboards"].glob("*.json")),
    }
    assert copies == sources, "run make k8s-monitoring"
    for copy_path in copies:
        source = MONITORING_SOURCES[copy_path.parts[0]].joinpath(*copy_path.parts[1:])
        assert (MONITORING / "files" / copy_path).read_bytes() == source.read_bytes(), (
            f"{copy_path}: make k8s-monitoring"
        )


def _generated(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """A ConfigMap of a configMapGenerator (its name carries a hash suffix)."""
    (found,) = [o for o in by_kind(objects, "ConfigMap") if o["metadata"]["name"].rsplit("-", 1)[0] == name]
    return found


@pytest.mark.parametrize("overlay", ["dev", "gpu"])
def test_prometheus_reaches_every_scrape_target_and_grafana_reaches_prometheus(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    objects = rendered[overlay]
    config = yaml.safe_load(_generated(objects, "prometheus-config")["data"]["prometheus.yml"])
    services = {o["metadata"]["name"]: o for o in by_kind(objects, "Service")}
    workloads = {
        w["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]: w for w, _ in pod_templates(objects)
    }
    prometheus = workloads["prometheus"]["spec"]["template"]["metadata"]["labels"]
    egress = _allowed(_policies_for(objects, prometheus, "Egress"), "Egress")
    for job in config["scrape_configs"]:
        targets = [t for c in job.get("static_configs", []) for t in c["targets"]]
        targets += [f"{name}:{c['port']}" for c in job.get("dns_sd_configs", []) for name in c["names"]]
        for target in targets:
            host, port = target.split(":")
            service = services[host]  # the name resolves in the namespace
            assert int(port) in {p["port"] for p in service["spec"]["ports"]}, target
            (pod,) = [
                w for name, w in workloads.items() if name == service["spec"]["selector"]["app.kubernetes.io/name"]
            ]
            labels = pod["spec"]["template"]["metadata"]["labels"]
            ingress = _allowed(_policies_for(objects, labels, "Ingress"), "Ingress")
            target_port = next(p["targetPort"] for p in service["spec"]["ports"] if p["port"] == int(port))
            container_ports = {
                p["name"]: p["containerPort"]
                for c in pod["spec"]["template"]["spec"]["containers"]
                for p in c.get("ports", [])
            }
            number = container_ports.get(target_port, target_port)
            assert ("prometheus", number) in ingress, (target, ingress)
            assert any(p == number for _, p in egress), (target, egress)
    grafana = workloads["grafana"]["spec"]["template"]["metadata"]["labels"]
    assert {p for _, p in _allowed(_policies_for(objects, grafana, "Egress"), "Egress")} >= {9090}
    source = yaml.safe_load(_generated(objects, "grafana-datasources")["data"]["prometheus.yaml"])
    assert source["datasources"][0]["url"] == "http://prometheus:9090" and "prometheus" in services


def test_the_dev_brokers_files_are_the_compose_brokers() -> None:
    for path in (REPO / "deploy" / "rabbitmq").iterdir():
        assert (REPO / "k8s" / "overlays" / "dev" / "rabbitmq" / path.name).read_bytes() == path.read_bytes(), path


WRITTEN_BY_IMAGE = ("HOME", "MPLCONFIGDIR", "KERAS_HOME")
WRITTEN_BY_SERVICE = ("HPO_TRAINER_WORK_DIR", "HPO_REPORTER_RESULTS_ROOT")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_what_an_hpo_container_writes_is_on_a_volume_beside_its_read_only_root(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    objects = rendered[overlay]
    for workload, pod in pod_templates(objects):
        for container in pod["containers"]:
            if not is_hpo_image(container["image"]):
                continue
            writable = [m["mountPath"] for m in container.get("volumeMounts", []) if not m.get("readOnly")]
            image_env = dockerfiles()[image_repository(container["image"])].env
            env = container_env(objects, container)
            paths = ["/tmp"] + [image_env[k] for k in WRITTEN_BY_IMAGE if k in image_env]
            paths += [env[k] for k in WRITTEN_BY_SERVICE if k in env]
            for path in paths:
                assert any(path == m or path.startswith(m.rstrip("/") + "/") for m in writable), (
                    workload["metadata"]["name"],
                    path,
                )

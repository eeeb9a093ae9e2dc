"""The control panel in the manifests: compose and Kubernetes run the same ``hpo ui`` command, point it at the API
by a name the API answers, probe the port it listens on, and the command as the manifest runs it serves the panel."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
import pytest

from tests.deploy.local import hpo_command
from tests.deploy.manifests import Container, compose_containers, k8s_containers, load_compose, named
from tests.support.ports import free_port
from tests.support.waiting import eventually


def _argv_value(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


@pytest.fixture(scope="module")
def panels(dotenv: dict[str, str], rendered: dict[str, list[dict[str, Any]]]) -> dict[str, Container]:
    (compose,) = compose_containers(load_compose(dotenv), panel=True)
    (k8s,) = k8s_containers(rendered["dev"], "dev", panel=True)
    return {"compose": compose, "k8s": k8s}


def test_compose_and_kubernetes_run_the_same_panel_command(panels: dict[str, Container]) -> None:
    compose, k8s = panels["compose"], panels["k8s"]
    assert compose.argv == k8s.argv and compose.argv[1] == "ui"
    assert set(compose.env) == set(k8s.env) == {"HPO_UI_API_URL"}, "the panel needs no secret and no broker"
    assert _argv_value(compose.argv, "--host") == "0.0.0.0" and "--no-browser" in compose.argv


def test_the_panel_reaches_the_api_by_a_name_the_api_answers(
    panels: dict[str, Container],
    dotenv: dict[str, str],
    rendered: dict[str, list[dict[str, Any]]],
    containers_of: Callable[[str], list[Container]],
) -> None:
    for where, manifest in (("compose", "docker-compose.yml"), ("k8s", "k8s/overlays/dev")):
        url = urlsplit(panels[where].env["HPO_UI_API_URL"])
        (api,) = [c for c in containers_of(manifest) if c.service == "api"]
        assert url.port == int(api.env["HPO_API_PORT"]), where
        assert url.hostname in api.env["HPO_API_ALLOWED_HOSTS"].split(","), f"{where}: the API would answer 400"
        if where == "compose":
            assert url.hostname in load_compose(dotenv)["services"]
        else:
            service = named(rendered["dev"], "Service", url.hostname or "")
            assert url.port in {p["port"] for p in service["spec"]["ports"]}


def test_the_probes_and_the_published_port_are_the_port_the_panel_listens_on(
    panels: dict[str, Container], dotenv: dict[str, str]
) -> None:
    port = int(_argv_value(panels["compose"].argv, "--port"))
    assert {(p.path, p.port) for p in panels["k8s"].probes.values()} == {("/_stcore/health", port)}
    service = load_compose(dotenv)["services"]["ui"]
    assert f"127.0.0.1:{port}/_stcore/health" in " ".join(service["healthcheck"]["test"])
    assert [p.rsplit(":", 1)[1] for p in service["ports"]] == [str(port)]
    assert service["ports"][0].startswith("127.0.0.1:")


async def test_the_manifests_panel_command_serves_the_panel(panels: dict[str, Container], tmp_path: Path) -> None:
    container = panels["compose"]
    port = free_port()
    argv = [*hpo_command(), *container.argv[1:]]
    argv[argv.index("--port") + 1] = str(port)
    argv[argv.index("--host") + 1] = "127.0.0.1"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HPO_UI_API_URL": f"http://127.0.0.1:{free_port()}"}
    process = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).text == "ok"
            except httpx.HTTPError:
                return process.poll() is not None  # ended: the assertion below says why

        await eventually(healthy, "the panel's health endpoint", timeout=90, interval=0.5)
        assert process.poll() is None, (process.stdout.read() if process.stdout else b"").decode()
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200 and "streamlit" in page.text.lower()
        children = psutil.Process(process.pid).children(recursive=True)
        assert children, "hpo ui runs the panel in a child process"
    finally:
        process.terminate()  # SIGTERM, as a supervisor or `docker stop` sends it
        process.wait(timeout=20)
    _, alive = psutil.wait_procs(children, timeout=15)
    for orphan in alive:  # no test leaves a panel behind, even when it fails
        orphan.kill()
    assert not alive, f"SIGTERM to hpo ui left its panel process running: {alive}"

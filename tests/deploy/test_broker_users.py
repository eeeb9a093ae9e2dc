"""The README's "Broker users" table and the broker definitions the deployments load are the same
permissions (``P``, the queue prefix, is empty in the definitions: one vhost per deployment), every service
connects as the user of its own row, and the monitoring user KEDA reads queue depths with may do nothing else.
That these permissions are enough is shown by test_manifests_run.py, which runs every service with them."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from tests.deploy.conftest import MANIFESTS
from tests.deploy.manifests import REPO, Container

TEMPLATE = REPO / "deploy" / "rabbitmq" / "definitions.template.json"
SERVICES = ("scheduler", "health", "reporter", "trainer", "api")


def _readme_permissions() -> dict[str, tuple[str, str, str]]:
    text = (REPO / "README.md").read_text()
    table = text[text.index("| service | configure | write | read |") :].split("\n\n", 1)[0]
    rows: dict[str, tuple[str, str, str]] = {}
    for line in table.splitlines()[2:]:
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        services, *regexes = cells
        unescaped = [cell.strip("`").replace("\\|", "|") for cell in regexes]
        for service in (s.strip() for s in services.split(",")):
            configure, write, read = (r.replace("<own queue>", service).replace("P", "") for r in unescaped)
            rows[service] = (configure, write, read)
    return rows


def _template_permissions() -> dict[str, tuple[str, str, str]]:
    definitions = json.loads(TEMPLATE.read_text())
    return {p["user"].removeprefix("hpo-"): (p["configure"], p["write"], p["read"]) for p in definitions["permissions"]}


def test_the_readme_table_is_the_definitions_the_deployments_load() -> None:
    readme, template = _readme_permissions(), _template_permissions()
    assert set(readme) == set(SERVICES)
    assert {service: template[service] for service in SERVICES} == readme


def test_the_definitions_have_one_user_per_service_plus_admin_and_monitor() -> None:
    definitions = json.loads(TEMPLATE.read_text())
    users = {u["name"]: u["tags"] for u in definitions["users"]}
    assert users == {f"hpo-{s}": [] for s in SERVICES} | {"hpo-admin": ["administrator"], "hpo-monitor": ["monitoring"]}
    assert _template_permissions()["monitor"] == ("^$", "^$", "^$")
    assert all(
        u["password"] == f"${{BROKER_{u['name'].removeprefix('hpo-').upper()}_PASSWORD}}" for u in definitions["users"]
    )


@pytest.mark.parametrize("manifest", MANIFESTS)
def test_every_service_connects_as_its_own_user(manifest: str, containers_of: Callable[[str], list[Container]]) -> None:
    for container in containers_of(manifest):
        if container.service != "migrate":
            assert urlsplit(container.env["HPO_AMQP_URL"]).username == f"hpo-{container.service}", container.workload

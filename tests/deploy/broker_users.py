"""The manifests' RabbitMQ users on this machine's broker: the definitions the manifest's broker renders at boot
(its own render-definitions.sh, template and passwords), imported with ``rabbitmqctl`` into a vhost of the
test's own, each user's name given the test's suffix; all of it deleted afterwards."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.services import require_service

IMPORT_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class BrokerUsers:
    vhost: str
    suffix: str
    users: tuple[str, ...]
    admin_url: str


def rabbitmqctl(*args: str) -> str:
    result = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def render_definitions(argv: list[str], env: dict[str, str], path_map: dict[str, Path], out: Path) -> dict[str, Any]:
    """Run the broker's render command (``sh render-definitions.sh TEMPLATE OUTPUT``) with its container paths
    mapped to this machine's (``path_map``: container folder or file -> local one); the rendered definitions."""

    def local(argument: str) -> str:
        for container_path in sorted(path_map, key=len, reverse=True):
            if argument == container_path or argument.startswith(container_path.rstrip("/") + "/"):
                return str(path_map[container_path]) + argument[len(container_path) :]
        return argument

    command = [local(argument) for argument in argv]
    command[-1] = str(out)
    result = subprocess.run(command, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, f"{' '.join(argv)} failed: {result.stderr}"
    return dict(json.loads(out.read_text()))


@contextmanager
def imported(definitions: dict[str, Any], word: str) -> Iterator[BrokerUsers]:
    """Import ``definitions`` (one vhost) as vhost ``hpo-deploy-<word>`` and users ``<name>-<word>``."""
    if shutil.which("rabbitmqctl") is None:
        require_service("rabbitmqctl", "not on PATH (the test creates the manifests' broker users with it)")
    (vhost_entry,) = definitions["vhosts"]
    source_vhost = vhost_entry["name"]
    vhost, suffix = f"hpo-deploy-{word}", f"-{word}"
    renamed = json.loads(json.dumps(definitions))
    renamed["vhosts"] = [{"name": vhost}]
    for user in renamed["users"]:
        user["name"] += suffix
    for permission in renamed["permissions"]:
        assert permission["vhost"] == source_vhost
        permission["vhost"] = vhost
        permission["user"] += suffix
    users = tuple(user["name"] for user in renamed["users"])
    (admin,) = [user for user in renamed["users"] if "administrator" in user["tags"]]
    admin_url = f"amqp://{admin['name']}:{admin['password']}@127.0.0.1:5672/{vhost}"
    try:
        _import(renamed)
        deadline = time.monotonic() + IMPORT_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            listed = rabbitmqctl("list_permissions", "-p", vhost) if _vhost_exists(vhost) else ""
            if all(user in listed for user in users):
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"the imported users did not appear in {vhost} within {IMPORT_TIMEOUT_SECONDS}s")
        yield BrokerUsers(vhost, suffix, users, admin_url)
    finally:
        for user in users:
            subprocess.run(["rabbitmqctl", "-q", "delete_user", user], capture_output=True, timeout=60)
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True, timeout=60)


def _import(definitions: dict[str, Any]) -> None:
    """``rabbitmqctl import_definitions FILE``: the CLI reads the file as the broker's user, so it lives in a
    folder that user can read, for the moment of the import (its passwords are this test's, deleted after)."""
    folder = Path(tempfile.mkdtemp(prefix="hpo-deploy-definitions-"))
    try:
        folder.chmod(0o755)
        path = folder / "definitions.json"
        path.write_text(json.dumps(definitions))
        path.chmod(0o644)
        rabbitmqctl("import_definitions", str(path))
    finally:
        shutil.rmtree(folder)


def _vhost_exists(vhost: str) -> bool:
    return vhost in rabbitmqctl("list_vhosts", "name").split()

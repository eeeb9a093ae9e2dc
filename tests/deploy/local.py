"""A manifest's container as a local process: its command with ``hpo`` as this checkout's entry point, its
environment with the broker, database and S3 addresses mapped to the ones this test uses, its ports to free
ones, ``0.0.0.0`` to ``127.0.0.1`` and its absolute paths under a scratch folder. Also: which environment
variables a service reads, recorded from the settings classes it builds (never a hand-written list)."""

from __future__ import annotations

import asyncio
import os
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from pydantic import AliasChoices, AliasPath
from pydantic_settings import BaseSettings

from tests.deploy.manifests import REPO, Container
from tests.support.ports import free_port

ENTRY_POINT = "hpo"
PORT_VARIABLES = ("HPO_HTTP_PORT", "HPO_API_PORT")


def hpo_command() -> list[str]:
    """What the images' ``hpo`` runs (``[project.scripts]``), from this checkout."""
    script = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"][ENTRY_POINT]
    module, _, function = script.partition(":")
    assert function == "main", script
    return [sys.executable, "-m", module]


@dataclass
class Places:
    """Where this test's broker, database and S3 server are."""

    root: Path
    s3_endpoint: str
    s3_bucket: str
    database_url: str = ""
    broker_vhost: str = ""
    broker_user_suffix: str = ""

    def broker_url(self, url: str) -> str:
        parts = urlsplit(url)
        if not self.broker_vhost:
            return url
        user = f"{parts.username}{self.broker_user_suffix}"
        return urlunsplit(("amqp", f"{user}:{parts.password}@127.0.0.1:5672", f"/{self.broker_vhost}", "", ""))

    def path(self, container_path: str) -> str:
        local = self.root / container_path.lstrip("/")
        local.mkdir(parents=True, exist_ok=True)
        return str(local)


def local_env(container: Container, places: Places, ports: dict[str, int]) -> dict[str, str]:
    """The container's environment with this machine's addresses (see the module docstring)."""
    env = {}
    for key, value in container.env.items():
        if key in PORT_VARIABLES:
            value = str(ports[key])
        elif key == "HPO_S3_ENDPOINT":
            value = places.s3_endpoint
        elif key == "HPO_S3_BUCKET":
            value = places.s3_bucket
        elif key == "HPO_S3_SECURE":
            value = "false"  # the test's S3 server speaks plain HTTP
        elif value.startswith(("amqp://", "amqps://")):
            value = places.broker_url(value)
        elif value.startswith("postgresql") and places.database_url:
            value = places.database_url
        elif value == "0.0.0.0":
            value = "127.0.0.1"
        elif value.startswith("/"):
            value = places.path(value)
        env[key] = value
    return env


def process_env(container: Container, places: Places, ports: dict[str, int]) -> dict[str, str]:
    """The image's ENV (paths under the scratch folder) and the container's environment, nothing else of ours."""
    image = {
        key: places.path(value) if value.startswith("/") else value
        for key, value in container.dockerfile.env.items()
        if key != "PATH"
    }
    return {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), **image, **local_env(container, places, ports)}


def free_ports() -> dict[str, int]:
    return {variable: free_port() for variable in PORT_VARIABLES}


# --- What a service reads -----------------------------------------------------------------------------------


def variables_of(settings: type[BaseSettings]) -> set[str]:
    """The environment variables a settings class reads: its fields with its env_prefix, or their aliases."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names = set()
    for name, info in settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            names |= {choice.upper() for choice in alias.choices if isinstance(choice, str)}
        elif isinstance(alias, AliasPath):
            names.add(str(alias.path[0]).upper())
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def reads(variable: str, classes: list[type[BaseSettings]]) -> bool:
    """Whether one of ``classes`` reads ``variable`` (nested fields too: ``HPO_HEALTH_WEIGHTS__CONVERGENCE``)."""
    for settings in classes:
        names = variables_of(settings)
        delimiter = settings.model_config.get("env_nested_delimiter")
        if variable.upper() in names or (delimiter and variable.upper().split(delimiter)[0] in names):
            return True
    return False


class _Connecting(Exception):
    """Raised where ``hpo serve`` would connect to the broker: every setting has been read by then."""


@contextmanager
def only_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Iterator[None]:
    for key in [key for key in os.environ if key.startswith("HPO_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield


async def settings_built_by(hpo_args: list[str], monkeypatch: pytest.MonkeyPatch) -> list[type[BaseSettings]]:
    """Run ``hpo <hpo_args>`` in this process up to where it would connect anywhere, recording each settings
    class it builds. A refused setting raises the service's ``UserInputError``."""
    from services.runtime.bus.amqp import AmqpBus

    built: list[type[BaseSettings]] = []
    original = BaseSettings.__init__

    def recording(self: BaseSettings, *args: Any, **kwargs: Any) -> None:
        built.append(type(self))
        original(self, *args, **kwargs)

    async def connecting(self: AmqpBus) -> None:
        raise _Connecting

    monkeypatch.setattr(BaseSettings, "__init__", recording)
    if hpo_args[:1] == ["serve"]:
        from services.cli.serve import serve

        monkeypatch.setattr(AmqpBus, "start", connecting)
        monkeypatch.setattr(AmqpBus, "close", lambda self: asyncio.sleep(0))
        with pytest.raises(_Connecting):
            await serve(hpo_args[1])
    elif hpo_args == ["db", "upgrade"]:
        from services.cli import main as cli
        from services.runtime.db import migrate

        monkeypatch.setattr(migrate, "upgrade", lambda url: None)
        monkeypatch.setattr(migrate, "current_revision", lambda url: "head")
        assert await asyncio.to_thread(cli.main, hpo_args) == cli.EXIT_OK
    else:
        raise AssertionError(f"not an hpo service command: {hpo_args}")
    return built

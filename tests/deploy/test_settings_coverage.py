"""Every variable a manifest gives an hpo container is one its service reads, and with only those variables
the service starts: nothing required is missing (the settings classes refuse the well-known secrets and a
missing token or key, so a required variable is one whose absence they refuse). What a service reads is
recorded from the settings classes it builds while it starts, up to where it would connect."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.deploy.conftest import MANIFESTS
from tests.deploy.local import Places, free_ports, local_env, only_env, reads, settings_built_by, variables_of
from tests.deploy.manifests import Container
from tests.support.s3 import S3Server


@pytest.mark.parametrize("manifest", MANIFESTS)
async def test_every_variable_a_manifest_sets_is_read_and_none_that_is_required_is_missing(
    manifest: str,
    containers_of: Callable[[str], list[Container]],
    s3_server: S3Server,
    s3_bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    containers = containers_of(manifest)
    assert {c.service for c in containers} >= {"migrate", "scheduler", "health", "reporter", "api", "trainer"}
    for container in containers:
        places = Places(tmp_path / container.workload, s3_server.endpoint, s3_bucket)
        with only_env(monkeypatch, local_env(container, places, free_ports())):
            classes = await settings_built_by(container.argv[1:], monkeypatch)
        monkeypatch.undo()
        read = set().union(*(variables_of(c) for c in classes))
        unread = sorted(variable for variable in container.env if not reads(variable, classes))
        assert unread == [], f"{manifest} {container.workload}: no settings class of its service reads {unread}"
        assert read, f"{container.workload} built no settings"

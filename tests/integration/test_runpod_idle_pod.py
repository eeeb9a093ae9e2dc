"""A pod's trainer stops itself: ``hpo serve trainer`` with ``HPO_TRAINER_IDLE_EXIT_SECONDS`` exits 0 once it had
no trial for that long (its pod's container command ends, so the pod stops costing)."""

from __future__ import annotations

import time

import pytest

from tests.integration.cluster import Processes
from tests.support.http import is_ready
from tests.support.ports import free_port
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def test_an_idle_trainer_exits_zero_after_its_idle_limit(processes: Processes) -> None:
    port = free_port()
    processes.start(
        "trainer", "pod-trainer", port, HPO_TRAINER_TRAINER_ID="hpo-trainer-1", HPO_TRAINER_IDLE_EXIT_SECONDS="2"
    )
    trainer = processes.by_name("pod-trainer")
    await eventually(lambda: is_ready(port), "the trainer to be ready", timeout=60, interval=0.1)
    ready_at = time.monotonic()
    await eventually(lambda: trainer.poll() is not None, "the idle trainer to exit", timeout=30, interval=0.1)
    processes.forget("pod-trainer")

    assert trainer.returncode == 0
    assert time.monotonic() - ready_at >= 1.0  # it waited for its limit, not less
    log = (processes.logs / "pod-trainer.log").read_text()
    assert "no trial for 2 s" in log and "stopping (idle)" in log

"""The durable queues of a deployment and the event types bound to each: part of the contract between
services, so that a broker can be set up before any service runs (``hpo bus declare``) and an event
published before its consumer first starts waits in its queue instead of being dropped.

Each list is exactly what the consuming service's handler table handles (``tests/unit/runtime/
test_topology.py`` checks every service). Per-instance queues (each trainer's ``trial.control`` feed,
observers such as the CLI or the API) are exclusive and declared by their consumer; they are not listed
here.
"""

from __future__ import annotations

from types import MappingProxyType

SCHEDULER_QUEUE = "scheduler"
HEALTH_QUEUE = "health"
REPORTER_QUEUE = "reporter"
TRAINER_WORK_QUEUE = "trainer.work"

DURABLE_QUEUES = MappingProxyType(
    {
        SCHEDULER_QUEUE: (
            "study.created",
            "study.stop_requested",
            "study.resume_requested",
            "trial.started",
            "trial.heartbeat",
            "trial.epoch_completed",
            "trial.completed",
            "trial.health_assessed",
            "trial.pruned",
            "trial.failed",
        ),
        HEALTH_QUEUE: ("trial.epoch_completed", "trial.completed", "trial.pruned", "trial.failed"),
        REPORTER_QUEUE: (
            "study.created",
            "study.resumed",
            "trial.requested",
            "trial.started",
            "trial.epoch_completed",
            "trial.completed",
            "trial.pruned",
            "trial.failed",
            "trial.health_assessed",
            "trial.health_alert",
            "artifact.stored",
            "study.completed",
        ),
        TRAINER_WORK_QUEUE: ("trial.requested",),
    }
)

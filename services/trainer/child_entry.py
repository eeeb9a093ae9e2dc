"""Where a trial child process begins, in a module that imports nothing heavy: a parent can start its first
trial child before it has imported anything itself (the embedded ``hpo optimize`` does so before it reads its
options, and the child imports TensorFlow, about 2.5 s, meanwhile).

The child imports ``isolation`` (and with it TensorFlow) on its own; the parent tells it its settings and
artifact store later, in the pipe's first message, ``("setup", TrainerSettings, ArtifactStore)``, which the
child reads once TensorFlow is imported.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection

from services.trainer.warm_child import TrialChild

CHILD_NAME_PREFIX = "hpo-trials-"


def run_trial_child(conn: Connection) -> None:
    """The child's target: serve trials on ``conn`` (``isolation.serve_trials``)."""
    from services.trainer.isolation import serve_trials

    serve_trials(conn)


def spawn_trial_child(trainer_id: str) -> TrialChild:
    """Start a trial child for the trainer ``trainer_id``; it waits for its ``setup`` message."""
    return TrialChild.spawn(multiprocessing.get_context("spawn"), run_trial_child, (), CHILD_NAME_PREFIX + trainer_id)

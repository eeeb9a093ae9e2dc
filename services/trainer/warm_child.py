"""The parent's handle on one trial child process, started ahead of need so that it is warm when a trial comes.

A child imports TensorFlow as soon as it starts (``child_entry``), then reads its settings from the pipe's
first message and says ``("ready", "tensorflow")``; told
``("preload", TrialRequestedData)`` it loads that trial's dataset into its own cache and says
``("ready", "dataset")``. ``ProcessTrialRunner`` keeps one such spare child beside the child that
trains, so that replacing a child after its quota of trials costs no wall time.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported by ``child_entry``, which must stay light
    from contracts.events import TrialRequestedData

log = logging.getLogger(__name__)


class TrialChild:
    """One child process and the parent's end of its pipe."""

    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.trials = 0  # trials it has finished
        self.jobs = 0  # trials it has been sent
        self.ready: set[str] = set()  # what it said it has done: "tensorflow", "dataset"

    @classmethod
    def spawn(cls, context: SpawnContext, target: Callable[..., None], args: tuple[Any, ...], name: str) -> TrialChild:
        parent_end, child_end = context.Pipe()
        process = context.Process(target=target, args=(child_end, *args), name=name, daemon=True)
        process.start()
        child_end.close()
        log.info("started trial process %s (pid %s)", name, process.pid)
        return cls(process, parent_end)

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.is_alive()

    def send(self, message: tuple[Any, ...]) -> bool:
        """False when the pipe is broken (the child is gone): the message was not delivered."""
        try:
            self.conn.send(message)
        except (BrokenPipeError, ConnectionResetError, OSError):
            return False
        return True

    def preload(self, request: TrialRequestedData) -> None:
        self.send(("preload", request))

    def note_ready(self, what: str) -> None:
        self.ready.add(what)

    def poll_ready(self) -> set[str]:
        """Read what an idle child has said so far (only ``ready`` messages come from an idle child)."""
        with contextlib.suppress(EOFError, OSError):
            while self.conn.poll(0):
                message = self.conn.recv()
                if message[0] == "ready":
                    self.note_ready(message[1])
        return set(self.ready)

    def retire(self) -> None:
        """Ask it to exit once it is idle; it exits on its own, ``reap`` collects it."""
        self.send(("exit",))

    def reap(self, timeout: float, *, close_pipe: bool = True) -> bool:
        """Wait up to ``timeout`` seconds for it to exit; True once it has. ``close_pipe=False`` leaves the
        pipe to a thread still reading the child's last messages (its trial's outcome)."""
        self.process.join(timeout=timeout)
        if self.process.is_alive():
            return False
        if close_pipe:
            self.conn.close()
        return True

    def kill(self, *, close_pipe: bool = True) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        if close_pipe:
            self.conn.close()

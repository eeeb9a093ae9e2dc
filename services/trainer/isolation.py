"""Each trial in a recycled child process: memory stays flat and a crash fails only the trial.

Keras and TensorFlow keep compiled training functions alive after ``clear_session`` (about 10 MB
per trial here; keras-team/keras#17458), so a long-lived trainer that trains in its own process
grows without bound. ``ProcessTrialRunner`` runs trials in a child process that it replaces after
``trials_per_process`` trials or once the child's RSS passes ``max_worker_rss_mb``, like Celery's
``max_tasks_per_child``. A child killed mid-trial (out-of-memory killer, segfault in a kernel)
turns into a failed trial with the reason, and the next trial gets a fresh child.

Pipe protocol: the parent sends ``("run", TrialJob)``, ``("control", ControlRequest)``,
``("judged", epoch)`` (the pruner's latest verdict) or ``("exit",)``; the child answers
``("data", notes)`` (the dataset's notes), ``("layers", layers)`` (the built model's),
``("started", architecture, parameter_count)``, ``("epoch", EpochTelemetry)`` and finally
``("outcome", TrialOutcome, rss_mb)``.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from contracts.enums import ControlAction
from services.runtime.artifacts.port import ArtifactStore
from services.trainer.control import ControlRequest
from services.trainer.outcome import OutcomeKind, TrialHooks, TrialJob, TrialOutcome
from services.trainer.settings import TrainerSettings

log = logging.getLogger(__name__)
POLL_SECONDS = 0.05
SHUTDOWN = ControlRequest(ControlAction.STOP, "the trainer is shutting down")


class _ParentLink:
    """The child's side of one trial: control requests and verdicts as the parent forwards them."""

    def __init__(self, conn: Connection, verdict_timeout: float) -> None:
        self._conn = conn
        self._verdict_timeout = verdict_timeout
        self.pending: ControlRequest | None = None
        self.judged = 0
        self.exit_requested = False

    def receive(self, timeout: float = 0.0) -> None:
        while self._conn.poll(timeout):
            incoming = self._conn.recv()
            if incoming[0] == "control":
                self.pending = incoming[1]
            elif incoming[0] == "judged":
                self.judged = max(self.judged, incoming[1])
            elif incoming[0] == "exit":
                self.exit_requested, self.pending = True, SHUTDOWN
            timeout = 0.0

    def control(self) -> ControlRequest | None:
        self.receive()
        return self.pending

    def await_verdict(self, epoch: int) -> None:
        deadline = time.monotonic() + self._verdict_timeout
        self.receive()
        while self.judged < epoch and self.pending is None and (left := deadline - time.monotonic()) > 0:
            self.receive(min(left, POLL_SECONDS))


def serve_trials(conn: Connection, settings: TrainerSettings, artifacts: ArtifactStore) -> None:
    """The child's main loop: run each job it is sent until told to exit or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle (graceful stop)
    from services.trainer.dataset_cache import DatasetCache
    from services.trainer.memory import rss_mb
    from services.trainer.training import KerasTrialRunner

    runner = KerasTrialRunner(settings, artifacts, DatasetCache())
    exit_requested = False
    while not exit_requested:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message[0] != "run":
            exit_requested = message[0] == "exit"
            continue
        link = _ParentLink(conn, settings.verdict_timeout_seconds)
        hooks = TrialHooks(
            started=lambda architecture, count: conn.send(("started", architecture, count)),
            data_loaded=lambda notes: conn.send(("data", notes)),
            layers_built=lambda layers: conn.send(("layers", layers)),
            epoch_completed=lambda telemetry: conn.send(("epoch", telemetry)),
            control=link.control,
            await_verdict=link.await_verdict,
        )
        outcome = runner.run(message[1], hooks)
        exit_requested = link.exit_requested
        conn.send(("outcome", outcome, rss_mb()))


class ProcessTrialRunner:
    """A ``TrialRunner`` that delegates each trial to its child process (started on first use)."""

    def __init__(self, settings: TrainerSettings, artifacts: ArtifactStore) -> None:
        self._settings = settings
        self._artifacts = artifacts
        self._context = multiprocessing.get_context("spawn")
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._trials_in_process = 0
        self.processes_started = 0
        self.last_child_rss_mb = 0.0

    @property
    def child_pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def run(self, job: TrialJob, hooks: TrialHooks) -> TrialOutcome:
        process, conn = self._ensure_child()
        conn.send(("run", job))
        forwarded: ControlRequest | None = None
        forwarded_judged = 0
        epochs = 0
        while True:
            try:
                message = conn.recv() if conn.poll(POLL_SECONDS) else None
            except (EOFError, OSError):
                message = None
                process.join(timeout=5)
            if message is not None:
                kind: str = message[0]
                if kind == "started":
                    hooks.started(message[1], message[2])
                elif kind == "data":
                    hooks.data_loaded(message[1])
                elif kind == "layers":
                    hooks.layers_built(message[1])
                elif kind == "epoch":
                    epochs += 1
                    hooks.epoch_completed(message[1])
                elif kind == "outcome":
                    self._after_trial(message[2])
                    outcome: TrialOutcome = message[1]
                    return outcome
                continue
            if not process.is_alive():
                return self._child_died(process, epochs)
            pending = hooks.control()
            if pending is not None and pending != forwarded:
                conn.send(("control", pending))
                forwarded = pending
            judged = hooks.judged()
            if judged > forwarded_judged:
                conn.send(("judged", judged))
                forwarded_judged = judged

    def close(self) -> None:
        """Ask the child to exit (it finishes its trial as if stopped), then make sure it is gone."""
        process, conn = self._process, self._conn
        self._process, self._conn = None, None
        if process is None or conn is None:
            return
        with contextlib.suppress(BrokenPipeError, OSError):
            conn.send(("exit",))
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)
        conn.close()

    def _ensure_child(self) -> tuple[BaseProcess, Connection]:
        if self._process is not None and self._conn is not None and self._process.is_alive():
            return self._process, self._conn
        self._discard()
        parent_end, child_end = self._context.Pipe()
        process = self._context.Process(
            target=serve_trials,
            args=(child_end, self._settings, self._artifacts),
            name=f"hpo-trials-{self._settings.trainer_id}",
            daemon=True,
        )
        process.start()
        child_end.close()
        self._process, self._conn = process, parent_end
        self._trials_in_process = 0
        self.processes_started += 1
        log.info("started trial process %s (pid %s)", process.name, process.pid)
        return process, parent_end

    def _after_trial(self, child_rss_mb: float) -> None:
        self.last_child_rss_mb = child_rss_mb
        self._trials_in_process += 1
        too_many = self._trials_in_process >= self._settings.trials_per_process
        too_big = child_rss_mb >= self._settings.max_worker_rss_mb
        if too_many or too_big:
            why = f"{self._trials_in_process} trials" if too_many else f"RSS {child_rss_mb:.0f} MB"
            log.info("recycling the trial process after %s", why)
            self.close()

    def _child_died(self, process: BaseProcess, epochs: int) -> TrialOutcome:
        code = process.exitcode
        self._discard()
        return TrialOutcome(OutcomeKind.FAILED, epochs, reason=f"the training process {_describe_exit(code)}")

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)
        self._process, self._conn = None, None


def _describe_exit(code: Any) -> str:
    if code == -signal.SIGKILL:
        return "was killed (SIGKILL) during the trial; the out-of-memory killer is the usual cause"
    if isinstance(code, int) and code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name} during the trial"
        except ValueError:
            return f"was killed by signal {-code} during the trial"
    return f"exited with code {code} during the trial; its error is in the trainer's log"

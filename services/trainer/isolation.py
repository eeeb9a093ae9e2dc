"""Each trial in a recycled child process: memory stays flat and a crash fails only the trial.

Keras and TensorFlow keep compiled training functions alive after ``clear_session`` (about 10 MB
per trial here; keras-team/keras#17458), so a long-lived trainer that trains in its own process
grows without bound. ``ProcessTrialRunner`` runs trials in a child process that it replaces after
``trials_per_process`` trials or once the child's RSS passes ``max_worker_rss_mb``, like Celery's
``max_tasks_per_child``. A child killed mid-trial (out-of-memory killer, segfault in a kernel)
turns into a failed trial with the reason, and the next trial gets a fresh child.

Replacing a child costs no wall time: once the current child has ``spare_lead_trials`` trials
left (2 by default, the running one included), a spare child is started as soon as the trial has
started training (not before: a cold child and a spare importing TensorFlow at once on two cores
would slow the trial that waits); the spare imports TensorFlow and loads that trial's dataset while
the trial trains, so the next child is ready when the current one retires; the retiring child exits
on its own, nobody waits for it. A runner told how many trials its one study plans (``planned_trials``,
the embedded run) starts no spare beside the last of them. ``prestart`` starts the first child before
any trial is requested (while a study is being set up). A trial runs in one child: it is sent again, to
a fresh child, only when the child it was sent to died before saying a word of it (an idle spare killed
just as the trial came: nothing of the trial had run).

Pipe protocol: the parent sends ``("setup", TrainerSettings, ArtifactStore)`` first (a child may start
before its parent knows its settings: ``child_entry``), then ``("preload", TrialRequestedData)`` (load
that dataset now), ``("run", TrialJob)``, ``("control", ControlRequest)``, ``("judged", epoch)`` (the pruner's latest
verdict) or ``("exit",)``; the child answers ``("ready", "tensorflow" | "dataset")`` when it has
imported TensorFlow or preloaded a dataset, and for a trial ``("data", notes)`` (the dataset's notes),
``("layers", layers)`` (the built model's), ``("started", architecture, parameter_count)``,
``("epoch", EpochTelemetry)`` and finally ``("outcome", TrialOutcome, rss_mb)``.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any, NoReturn

from contracts.enums import ControlAction
from contracts.events import TrialRequestedData
from services.runtime.artifacts.port import ArtifactStore
from services.trainer.child_entry import spawn_trial_child
from services.trainer.control import ControlRequest
from services.trainer.outcome import OutcomeKind, TrialHooks, TrialJob, TrialOutcome
from services.trainer.settings import TrainerSettings
from services.trainer.warm_child import TrialChild

log = logging.getLogger(__name__)
POLL_SECONDS = 0.05
VERDICT_POLL_SECONDS = 0.002  # while the child waits at an epoch's end, the pruner's verdict reaches it this soon
DELIVERY_ATTEMPTS = 3  # a trial whose child died before it began the trial goes to a fresh child, this often
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


def serve_trials(conn: Connection) -> None:
    """The child's main loop: get warm, read its setup, then run each job it is sent until told to exit or the
    pipe closes (before its setup: it exits)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle (graceful stop)
    # Two TensorFlow processes share a GPU (the spare beside the one training): neither may take it all.
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    from services.trainer.lean_import import import_keras_lean

    import_keras_lean()  # before anything imports Keras: its plotting, scikit-learn and pandas integrations stay out
    from services.trainer.dataset_cache import DatasetCache
    from services.trainer.memory import freeze_long_lived_objects, rss_mb
    from services.trainer.training import KerasTrialRunner, warm_up_tensorflow

    warm_up_tensorflow()
    setup = _receive_setup(conn)
    if setup is None:
        _exit_child(conn)
    settings, artifacts = setup
    runner = KerasTrialRunner(settings, artifacts, DatasetCache())
    freeze_long_lived_objects()
    conn.send(("ready", "tensorflow"))
    exit_requested = False
    while not exit_requested:
        try:
            message = conn.recv()
        except EOFError:
            break
        if message[0] == "preload":
            _preload(runner, message[1])
            conn.send(("ready", "dataset"))
            continue
        if message[0] != "run":
            exit_requested = message[0] == "exit"
            continue
        job: TrialJob = message[1]
        # without a pruner no verdict comes: an epoch's end waits for none (not verdict_timeout_seconds each)
        link = _ParentLink(conn, settings.verdict_timeout_seconds if job.request.await_verdicts else 0.0)
        hooks = TrialHooks(
            started=lambda architecture, count: conn.send(("started", architecture, count)),
            data_loaded=lambda notes: conn.send(("data", notes)),
            layers_built=lambda layers: conn.send(("layers", layers)),
            epoch_completed=lambda telemetry: conn.send(("epoch", telemetry)),
            control=link.control,
            await_verdict=link.await_verdict,
        )
        outcome = runner.run(job, hooks)
        exit_requested = link.exit_requested
        conn.send(("outcome", outcome, rss_mb()))
    _exit_child(conn)


def _receive_setup(conn: Connection) -> tuple[TrainerSettings, ArtifactStore] | None:
    """The pipe's first message, ``("setup", settings, artifacts)``; None when the parent closed the pipe first
    (or asked the child to exit)."""
    try:
        message = conn.recv()
    except EOFError:
        return None
    if message[0] != "setup":
        if message[0] != "exit":
            log.error("a trial child's first message must be its setup, got %r: exiting", message[0])
        return None
    return message[1], message[2]


def _exit_child(conn: Connection) -> NoReturn:
    conn.close()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # TensorFlow's own teardown takes about a second and frees nothing the OS does not


def _preload(runner: Any, request: TrialRequestedData) -> None:
    """Load the dataset a coming trial will want; a failure is left for that trial to report."""
    try:
        runner.load_splits(request)
    except Exception:  # the trial that needs it loads it again and reports the error
        log.debug("preloading %s failed", request.dataset.value, exc_info=True)


class ProcessTrialRunner:
    """A ``TrialRunner`` that delegates each trial to a child process, with a warm spare beside it."""

    def __init__(
        self, settings: TrainerSettings, artifacts: ArtifactStore, *, planned_trials: int | None = None
    ) -> None:
        """``planned_trials``: the trials (completed or pruned) this runner will be sent, when one study is all it
        serves (the embedded run): no spare is started for the last of them, since no trial follows it."""
        self._settings = settings
        self._planned_trials = planned_trials
        self._finished_trials = 0
        self._artifacts = artifacts
        self._lock = threading.Lock()
        self._current: TrialChild | None = None
        self._spare: TrialChild | None = None
        self._retiring: list[TrialChild] = []
        self._closed = False
        self.processes_started = 0
        """Children that have been given a trial (a spare that never ran one is not counted)."""
        self.children_spawned = 0
        self.last_child_rss_mb = 0.0

    @property
    def child_pid(self) -> int | None:
        """The child that runs (or will run) the next trial."""
        return self._current.pid if self._current is not None else None

    @property
    def spare_pid(self) -> int | None:
        return self._spare.pid if self._spare is not None else None

    def spare_ready(self) -> set[str]:
        """What the spare child has done so far: ``{"tensorflow"}``, then ``"dataset"`` once preloaded."""
        spare = self._spare
        return spare.poll_ready() if spare is not None else set()

    def child_pids(self) -> list[int]:
        """Every child process this runner holds: training, spare and retiring ones."""
        children = [self._current, self._spare, *self._retiring]
        return [child.pid for child in children if child is not None and child.pid is not None]

    def prestart(self, first_child: TrialChild | None = None) -> None:
        """Start the first child now, so that it imports TensorFlow while the study is being set up; or adopt
        ``first_child`` (started by ``child_entry.spawn_trial_child`` before these settings were known) as it."""
        with self._lock:
            if self._current is None and not self._closed:
                self._current = self._spawn() if first_child is None else self._set_up(first_child)
                return
        if first_child is not None:
            first_child.kill()

    def run(self, job: TrialJob, hooks: TrialHooks) -> TrialOutcome:
        for attempt in range(1, DELIVERY_ATTEMPTS + 1):
            child = self._deliver(("run", job))
            outcome = self._follow(child, job, hooks, last_attempt=attempt == DELIVERY_ATTEMPTS)
            if outcome is not None:
                if outcome.kind in (OutcomeKind.COMPLETED, OutcomeKind.PRUNED):
                    self._finished_trials += 1
                return outcome
            log.warning(
                "trial %s: its process (pid %s) died before it began the trial; sending it to a fresh one",
                job.request.trial_number,
                child.pid,
            )
        raise AssertionError("unreachable: the last attempt always returns an outcome")

    def _follow(
        self, child: TrialChild, job: TrialJob, hooks: TrialHooks, *, last_attempt: bool
    ) -> TrialOutcome | None:
        """Relay ``child``'s messages of ``job`` to ``hooks`` until its outcome; None when the child died before
        it said anything of the trial (unless ``last_attempt``: then that is the trial's failure)."""
        forwarded: ControlRequest | None = None
        forwarded_judged = 0
        epochs = 0
        begun = False
        verdict_wait_ends = 0.0  # until when the child may wait for the verdict on its latest epoch
        conn, process = child.conn, child.process
        while True:
            # the child waits (verdict_timeout_seconds at most) for the verdict on its latest epoch: look for it on
            # the board often while it may still wait, not every 50 ms
            awaiting_verdict = epochs > forwarded_judged and time.monotonic() < verdict_wait_ends
            try:
                message = conn.recv() if conn.poll(VERDICT_POLL_SECONDS if awaiting_verdict else POLL_SECONDS) else None
            except (EOFError, OSError):
                message = None
                process.join(timeout=5)
            if message is not None:
                kind: str = message[0]
                begun = begun or kind != "ready"
                if kind == "started":
                    hooks.started(message[1], message[2])
                    self._keep_spare(job.request, child)
                elif kind == "data":
                    hooks.data_loaded(message[1])
                elif kind == "layers":
                    hooks.layers_built(message[1])
                elif kind == "epoch":
                    epochs += 1
                    hooks.epoch_completed(message[1])
                    if job.request.await_verdicts:
                        verdict_wait_ends = time.monotonic() + self._settings.verdict_timeout_seconds
                elif kind == "ready":
                    child.note_ready(message[1])
                elif kind == "outcome":
                    self._after_trial(child, message[2])
                    outcome: TrialOutcome = message[1]
                    return outcome
                continue
            if not process.is_alive():
                failed = self._child_died(child, epochs)
                return failed if begun or last_attempt else None
            pending = hooks.control()
            if pending is not None and pending != forwarded:
                child.send(("control", pending))
                forwarded = pending
            judged = hooks.judged()
            if judged > forwarded_judged:
                child.send(("judged", judged))
                forwarded_judged = judged

    def close(self) -> None:
        """Ask the training child to exit (it finishes its trial as if stopped), stop the spare and the
        retiring children, and make sure all of them are gone."""
        with self._lock:
            self._closed = True
            current, spare, retiring = self._current, self._spare, self._retiring
            self._current, self._spare, self._retiring = None, None, []
        if spare is not None:
            spare.kill()  # idle: nothing of a trial is lost
        if current is not None and current.jobs == 0:
            current.kill()  # started ahead and never given a trial (maybe still importing TensorFlow)
        elif current is not None:  # a trial's thread may still read its outcome from the pipe: leave it open
            current.retire()
            if not current.reap(timeout=30, close_pipe=False):
                current.kill(close_pipe=False)
        for child in retiring:
            if not child.reap(timeout=5):
                child.kill()

    def _spawn(self) -> TrialChild:
        return self._set_up(spawn_trial_child(self._settings.trainer_id))

    def _set_up(self, child: TrialChild) -> TrialChild:
        """Tell a new child its settings (its first message); one that died already is found at delivery."""
        self.children_spawned += 1
        child.send(("setup", self._settings, self._artifacts))
        return child

    def _deliver(self, message: tuple[Any, ...]) -> TrialChild:
        """Send a trial to the current child, else the spare, else a new one; a child found dead before the
        trial reached it is replaced, so the trial is delivered once and to a live child."""
        with self._lock:
            self._reap_retired()
            for _ in range(3):
                child = self._take_child()
                if child.send(message):
                    if child.jobs == 0:
                        self.processes_started += 1
                    child.jobs += 1
                    return child
                self._current = None
                child.kill()
            raise RuntimeError("could not start a trial process: each one died before it took the trial")

    def _take_child(self) -> TrialChild:
        current = self._current
        if current is not None and current.alive():
            return current
        if current is not None:
            current.kill()
        spare, self._spare = self._spare, None
        if spare is not None and not spare.alive():
            log.warning("the warm trial process (pid %s) died while it waited; starting another", spare.pid)
            spare.kill()
            spare = None
        self._current = spare or self._spawn()
        return self._current

    def _keep_spare(self, request: TrialRequestedData, child: TrialChild) -> None:
        """Once ``child`` (training now) is near its quota, make sure a warm spare is on its way, loading this
        trial's dataset, while the trial trains (a trainer that runs one or two trials starts no spare it never
        uses)."""
        trials_left = self._settings.trials_per_process - child.trials  # the running one included
        if trials_left > self._settings.spare_lead_trials or self._last_planned_trial_runs():
            return
        with self._lock:
            if self._closed:
                return
            if self._spare is not None and not self._spare.alive():
                self._spare.kill()
                self._spare = None
            if self._spare is None:
                self._spare = self._spawn()
                self._spare.preload(request)

    def _last_planned_trial_runs(self) -> bool:
        """The trial training now is the last one planned (a failed one is not finished: another follows it)."""
        return self._planned_trials is not None and self._finished_trials + 1 >= self._planned_trials

    def _after_trial(self, child: TrialChild, child_rss_mb: float) -> None:
        self.last_child_rss_mb = child_rss_mb
        child.trials += 1
        too_many = child.trials >= self._settings.trials_per_process
        too_big = child_rss_mb >= self._settings.max_worker_rss_mb
        if too_many or too_big:
            why = f"{child.trials} trials" if too_many else f"RSS {child_rss_mb:.0f} MB"
            log.info("recycling the trial process after %s", why)
            with self._lock:
                if self._current is child:
                    self._current = None
                    child.retire()
                    self._retiring.append(child)

    def _reap_retired(self) -> None:
        self._retiring = [child for child in self._retiring if not child.reap(timeout=0)]

    def _child_died(self, child: TrialChild, epochs: int) -> TrialOutcome:
        code = child.process.exitcode
        with self._lock:
            if self._current is child:
                self._current = None
        child.kill()
        return TrialOutcome(OutcomeKind.FAILED, epochs, reason=f"the training process {_describe_exit(code)}")


def _describe_exit(code: Any) -> str:
    if code == -signal.SIGKILL:
        return "was killed (SIGKILL) during the trial; the out-of-memory killer is the usual cause"
    if isinstance(code, int) and code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name} during the trial"
        except ValueError:
            return f"was killed by signal {-code} during the trial"
    return f"exited with code {code} during the trial; its error is in the trainer's log"

"""The RunPod serverless handler: one job trains one trial with the trainer's own code.

Run it as the worker's entry point (``python -m services.trainer.serverless``); the runpod SDK's own
flags work: ``--rp_serve_api --rp_api_port N`` starts its local test server, ``--test_input '{...}'``
runs one job and exits. The handler is a generator (``return_aggregate_stream``): it yields a
``JobStarted``, a ``JobEpoch`` per epoch and a last ``JobResult`` (``contracts/serverless.py``); on
RunPod it also reports each epoch with ``progress_update`` (what ``/status`` shows while it runs).

The model goes to the object store when ``HPO_S3_ENDPOINT`` is set, else it comes back base64-encoded
in the result. Importing this module needs neither TensorFlow nor the runpod SDK (a dry run checks the
image's wiring); training imports TensorFlow on the first job.
"""

from __future__ import annotations

import base64
import logging
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from contracts.enums import ControlAction
from contracts.serverless import JobEpoch, JobResult, JobStarted, ServerlessJobInput
from contracts.telemetry import EpochTelemetry
from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.artifacts.port import ArtifactStore
from services.runtime.settings import ObjectStoreSettings, load
from services.trainer.control import ControlRequest
from services.trainer.dataset_cache import shared_cache
from services.trainer.outcome import OutcomeKind, TrialHooks, TrialJob, TrialOutcome, TrialRunner
from services.trainer.settings import TrainerSettings

log = logging.getLogger(__name__)
Progress = Callable[[dict[str, Any], dict[str, Any]], None]


@dataclass
class Worker:
    """What every job on this worker shares: settings, the object store (None: return the model)."""

    settings: TrainerSettings
    store: ArtifactStore | None
    progress: Progress | None = None
    """``runpod.serverless.progress_update`` when running on RunPod (it posts to the platform)."""
    runner: TrialRunner | None = field(default=None, repr=False)

    def trial_runner(self, artifacts: ArtifactStore) -> TrialRunner:
        from services.trainer.bootstrap import make_runner

        return make_runner(self.settings, artifacts, shared_cache())


_WORKER: Worker | None = None


def configure(worker: Worker) -> None:
    global _WORKER
    _WORKER = worker


def handler(job: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Train the trial in ``job["input"]``, yielding each chunk as a JSON-ready dict."""
    worker = _WORKER or Worker(TrainerSettings(isolate_trials=False), None)
    started_at = time.perf_counter()
    try:
        payload = ServerlessJobInput.model_validate(job.get("input"))
    except ValidationError as exc:
        reason = f"the job input is not a trial request: {exc.errors()[0].get('msg', 'invalid')}"
        yield JobResult(outcome="failed", epochs_trained=0, reason=reason[:2000]).model_dump(mode="json")
        return
    for chunk in run_trial(payload, worker):
        if isinstance(chunk, JobResult):
            chunk = chunk.model_copy(update={"worker_seconds": time.perf_counter() - started_at})
        elif isinstance(chunk, JobEpoch) and worker.progress is not None:
            worker.progress(job, {"epoch": chunk.telemetry.epoch, "max_epochs": chunk.max_epochs})
        yield chunk.model_dump(mode="json")


def handle_whole(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The same job, its chunks as one list: the SDK's ``--test_input`` mode does not run generators."""
    return list(handler(job))


def run_trial(payload: ServerlessJobInput, worker: Worker) -> Iterator[JobStarted | JobEpoch | JobResult]:
    """Run the trial in a thread and yield what it reports, in order; closing the generator stops it."""
    trial = TrialJob(study_id=payload.study_id, trial_id=payload.trial_id, request=payload.request)
    chunks: queue.Queue[JobStarted | JobEpoch | TrialOutcome | BaseException] = queue.Queue()
    stopped = threading.Event()
    notes: list[str] = []
    worker_id = worker.settings.trainer_id

    def started(architecture: str, parameter_count: int) -> None:
        chunks.put(
            JobStarted(
                architecture=architecture, parameter_count=parameter_count, data_notes=notes, worker_id=worker_id
            )
        )

    def epoch_completed(telemetry: EpochTelemetry) -> None:
        chunks.put(JobEpoch(max_epochs=trial.request.max_epochs, telemetry=telemetry))

    def control() -> ControlRequest | None:
        return ControlRequest(ControlAction.STOP, "the job was cancelled") if stopped.is_set() else None

    hooks = TrialHooks(
        started=started, epoch_completed=epoch_completed, control=control, data_loaded=lambda lines: notes.extend(lines)
    )
    scratch = tempfile.TemporaryDirectory(prefix="hpo-serverless-")
    artifacts: ArtifactStore = worker.store or LocalArtifactStore(Path(scratch.name))

    def train() -> None:
        try:
            chunks.put(worker.trial_runner(artifacts).run(trial, hooks))
        except BaseException as exc:  # reported as the trial's failure, below
            chunks.put(exc)

    thread = threading.Thread(target=train, name=f"trial-{trial.request.trial_number}", daemon=True)
    thread.start()
    try:
        while True:
            item = chunks.get()
            if isinstance(item, JobStarted | JobEpoch):
                yield item
                continue
            if isinstance(item, BaseException):
                reason = f"the worker could not run the trial: {type(item).__name__}: {item}"
                yield JobResult(outcome="failed", epochs_trained=0, reason=reason[:2000], worker_id=worker_id)
            else:
                yield _result(
                    item, artifacts, inline=worker.store is None and payload.return_model, worker_id=worker_id
                )
            return
    finally:
        stopped.set()  # a cancelled job: training ends at its next batch
        thread.join(timeout=60)
        scratch.cleanup()


def _result(outcome: TrialOutcome, artifacts: ArtifactStore, *, inline: bool, worker_id: str) -> JobResult:
    model_base64 = None
    model_key = outcome.model_key
    if outcome.model_key and inline:
        model_base64 = base64.b64encode(artifacts.get_bytes(outcome.model_key)).decode("ascii")
    return JobResult(
        outcome={OutcomeKind.COMPLETED: "completed", OutcomeKind.PRUNED: "pruned"}.get(outcome.kind, "failed"),
        epochs_trained=outcome.epochs_trained,
        reason=outcome.reason[:2000],
        metrics=outcome.metrics,
        architecture=outcome.architecture,
        stopped_early=outcome.stopped_early,
        last_val_accuracy=outcome.last_val_accuracy,
        model_key=model_key,
        model_size_bytes=outcome.model_size_bytes,
        model_base64=model_base64,
        worker_id=worker_id,
    )


def build_worker(on_runpod: bool) -> Worker:
    """Settings from the environment (``HPO_TRAINER_*``, ``HPO_S3_*``): the entry point's job."""
    settings = load(TrainerSettings, prefix="HPO_TRAINER_", isolate_trials=False)  # one job at a time
    stores = load(ObjectStoreSettings)
    store: ArtifactStore | None = None
    if stores.s3_endpoint:
        from services.runtime.artifacts.s3 import S3ArtifactStore

        store = S3ArtifactStore(
            stores.s3_endpoint,
            stores.s3_access_key.get_secret_value(),
            stores.s3_secret_key.get_secret_value(),
            stores.s3_bucket,
            secure=stores.s3_secure,
        )
    progress: Progress | None = None
    if on_runpod:
        from runpod.serverless import progress_update

        progress = progress_update
    return Worker(settings=settings, store=store, progress=progress)


def main() -> None:
    import os
    import sys

    import runpod

    from services.runtime.errors import UserInputError

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        configure(build_worker(on_runpod="RUNPOD_WEBHOOK_POST_OUTPUT" in os.environ))
    except UserInputError as exc:
        raise SystemExit(f"hpo serverless worker: {exc}") from None
    one_shot = any(arg.startswith("--test_input") for arg in sys.argv)
    runpod.serverless.start({"handler": handle_whole if one_shot else handler, "return_aggregate_stream": True})


if __name__ == "__main__":
    main()

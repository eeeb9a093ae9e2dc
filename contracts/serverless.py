"""The RunPod serverless job: what the bridge sends (``ServerlessJobInput``) and what the handler yields.

A job trains one trial. The handler is a generator: it yields one ``JobStarted``, one ``JobEpoch`` per
epoch and a last ``JobResult``; on RunPod the job's ``/stream`` relays them as they come and its final
output (with ``return_aggregate_stream``) is the list of all of them, the ``JobResult`` last.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from contracts.events import TrialRequestedData
from contracts.telemetry import EpochTelemetry, TrialMetrics


class ServerlessJobInput(BaseModel):
    """The ``input`` of one job: the trial, as the scheduler requested it."""

    model_config = ConfigDict(frozen=True)

    study_id: str = Field(max_length=64)
    trial_id: str = Field(max_length=64)
    request: TrialRequestedData
    return_model: bool = Field(
        default=True, description="Without an object store on the worker, return the saved model base64-encoded."
    )


class JobStarted(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["started"] = "started"
    architecture: str = Field(max_length=500)
    parameter_count: int
    data_notes: list[str] = Field(default_factory=list)
    worker_id: str = Field(default="", max_length=200)


class JobEpoch(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["epoch"] = "epoch"
    max_epochs: int
    telemetry: EpochTelemetry


class JobResult(BaseModel):
    """How the trial ended on the worker, with the same fields a local trainer reports."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["result"] = "result"
    outcome: Literal["completed", "pruned", "failed"]
    epochs_trained: int
    reason: str = Field(default="", max_length=2000)
    metrics: TrialMetrics | None = None
    architecture: str = Field(default="", max_length=500)
    stopped_early: bool = False
    last_val_accuracy: float | None = None
    model_key: str | None = None
    model_size_bytes: int = 0
    model_base64: str | None = Field(default=None, description="The saved model, when the worker has no store.")
    worker_seconds: float = Field(default=0.0, description="Wall time of the handler on the worker.")
    worker_id: str = Field(default="", max_length=200)


JobChunk = Annotated[JobStarted | JobEpoch | JobResult, Field(discriminator="kind")]
JOB_CHUNK: TypeAdapter[JobStarted | JobEpoch | JobResult] = TypeAdapter(JobChunk)

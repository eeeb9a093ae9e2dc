"""Every event on the bus: one envelope, one payload model per event type.

The envelope carries ``id`` (unique per event; consumers de-duplicate on it), ``type`` (also the
routing key), ``schema_version``, ``time``, ``source`` (the publishing service), ``study_id``,
``trial_id`` (for trial events), ``correlation_id`` (the study's id unless set) and ``data``.
"""

from __future__ import annotations

import builtins
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, TypeAdapter, model_validator

from contracts.architecture import LAYERS_MAX, Layers
from contracts.enums import ControlAction, DatasetName, Mode, Objective, StudyState
from contracts.health import HealthAlert, HealthAssessment
from contracts.study import BadFilePolicy, ColumnName, StudyConfig
from contracts.telemetry import EpochTelemetry, TrialMetrics

SCHEMA_VERSION = 1

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
"""Event, study, trial and correlation ids: letters, digits, ``_`` and ``-`` (generated ids are UUID hex).
Nothing else, so that an id is safe in a path, a log line, an SSE field or a metric label."""
STUDY_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
"""A study's name is also its results folder: letters, digits, ``_ . -``, starting with a letter or digit."""
REASON_MAX_CHARS = 2_000
TEXT_MAX_CHARS = 20_000
DATA_NOTE_MAX_CHARS = 500
DATA_NOTES_MAX = 50

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
StudyName = Annotated[str, StringConstraints(pattern=STUDY_NAME_PATTERN)]
Source = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
TrainerId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]
Key = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
Owner = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]


def _bounded(limit: int) -> BeforeValidator:
    """Free text is cut at ``limit`` characters (a reason quoting a whole file never travels whole)."""

    def cut(value: object) -> object:
        if isinstance(value, str) and len(value) > limit:
            return value[: limit - 1] + "…"
        return value

    return BeforeValidator(cut)


def _at_most(limit: int) -> BeforeValidator:
    """A list is cut at ``limit`` entries, the last one saying how many more there were."""

    def cut(value: object) -> object:
        if isinstance(value, list | tuple) and len(value) > limit:
            return [*value[: limit - 1], f"… and {len(value) - limit + 1} more"]
        return value

    return BeforeValidator(cut)


Reason = Annotated[str, _bounded(REASON_MAX_CHARS)]
Text = Annotated[str, _bounded(TEXT_MAX_CHARS)]
DataNote = Annotated[str, _bounded(DATA_NOTE_MAX_CHARS)]
DataNotes = Annotated[list[DataNote], _at_most(DATA_NOTES_MAX), Field(max_length=DATA_NOTES_MAX)]


def new_id() -> str:
    return uuid.uuid4().hex


_E = TypeVar("_E", bound="_Envelope")


class _Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    if TYPE_CHECKING:
        type: str  # each event class fixes it to a literal (the routing key)

    id: Id = Field(default_factory=new_id)
    schema_version: int = SCHEMA_VERSION
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    source: Source
    study_id: Id
    trial_id: Id | None = None
    correlation_id: Id | Literal[""] = ""

    @model_validator(mode="after")
    def _default_correlation(self) -> Self:
        if not self.correlation_id:
            object.__setattr__(self, "correlation_id", self.study_id)
        return self

    def follow_up(self, event_class: builtins.type[_E], data: BaseModel, *, source: str, id: str | None = None) -> _E:
        """A new event caused by this one: same study, trial and correlation ids; ``id`` fixes its id
        (a stable id derived from this event makes a redelivered cause republish the same event)."""
        fields: dict[str, Any] = {
            "source": source,
            "study_id": self.study_id,
            "trial_id": self.trial_id,
            "correlation_id": self.correlation_id,
            "data": data,
        }
        if id is not None:
            fields["id"] = id
        return event_class.model_validate(fields)


# ---- payloads -------------------------------------------------------------------------------


class StudyCreatedData(BaseModel):
    model_config = ConfigDict(frozen=True)
    study_name: StudyName
    config: StudyConfig
    owner: Owner | None = Field(
        default=None, description="Name of the API token that submitted it (None: the CLI or the admin token)."
    )


class StudyStopRequestedData(BaseModel):
    model_config = ConfigDict(frozen=True)
    reason: Reason = "stop requested by user"


class StudyResumeRequestedData(BaseModel):
    model_config = ConfigDict(frozen=True)
    reason: Reason = "resume requested by user"


class StudyResumedData(BaseModel):
    """The scheduler took a stopped (or interrupted) study up again from its stored trials."""

    model_config = ConfigDict(frozen=True)
    completed_trials: int = 0
    pruned_trials: int = 0
    failed_trials: int = 0
    remaining_trials: int = Field(default=0, description="Finished trials still to run for the study's `trials`.")


class StudyCompletedData(BaseModel):
    model_config = ConfigDict(frozen=True)
    state: StudyState
    reason: Reason = ""
    completed_trials: int = 0
    pruned_trials: int = 0
    failed_trials: int = 0
    best_trial_id: Id | None = None
    best_trial_number: int | None = None
    best_score: float | None = None
    best_params: dict[str, Any] = Field(default_factory=dict)


class TrialRequestedData(BaseModel):
    """Everything a trainer needs to run one trial; trainers never read the database."""

    model_config = ConfigDict(frozen=True)
    trial_number: int
    attempt: int = 1
    params: dict[str, Any]
    dataset: DatasetName
    data_dir: str | None = None
    max_samples: int | None = None
    max_epochs: int
    seed: int | None = None
    objective: Objective
    mode: Mode
    retry_of: Id | None = Field(default=None, description="Trial id this one retries, if any.")
    await_verdicts: bool = Field(
        default=False,
        description="A pruner judges every epoch: the trainer waits (briefly) for each verdict before the next.",
    )
    on_bad_files: BadFilePolicy = Field(
        default=BadFilePolicy.SKIP, description="Unreadable files in an image folder: skip (and list) them, or fail."
    )
    text_column: ColumnName = Field(default="text", description="text_csv: the CSV column holding the text.")
    label_column: ColumnName = Field(default="label", description="text_csv: the CSV column holding the label.")


class TrialStartedData(BaseModel):
    model_config = ConfigDict(frozen=True)
    trainer_id: TrainerId
    trial_number: int
    attempt: int = 1
    architecture: Text = ""
    parameter_count: int = 0
    layers: Layers = Field(
        default_factory=list,
        description=f"The built model, layer by layer (at most {LAYERS_MAX}; empty from trainers that predate it).",
    )
    data_notes: DataNotes = Field(
        default_factory=list,
        description="What loading the dataset found worth telling (files skipped or ignored, how it was split), "
        f"one line each: at most {DATA_NOTES_MAX} lines of {DATA_NOTE_MAX_CHARS} characters, longer ones are cut.",
    )


class TrialHeartbeatData(BaseModel):
    model_config = ConfigDict(frozen=True)
    trainer_id: TrainerId
    epoch: int = 0


class TrialEpochCompletedData(BaseModel):
    model_config = ConfigDict(frozen=True)
    trainer_id: TrainerId
    trial_number: int
    max_epochs: int
    telemetry: EpochTelemetry


class TrialControlData(BaseModel):
    model_config = ConfigDict(frozen=True)
    action: ControlAction
    reason: Reason = ""
    epoch: int | None = Field(default=None, description="The epoch a prune or continue verdict judged.")


class TrialCompletedData(BaseModel):
    model_config = ConfigDict(frozen=True)
    trainer_id: TrainerId
    trial_number: int
    metrics: TrialMetrics
    model_key: Key | None = None
    architecture: Text = ""
    stopped_early: bool = Field(default=False, description="True when a stop request ended it before max_epochs.")


class TrialFailedData(BaseModel):
    model_config = ConfigDict(frozen=True)
    trainer_id: TrainerId | None = None
    trial_number: int
    reason: Reason
    epochs_trained: int = 0
    handed_back: bool = False
    """The trainer stopped before the trial ended (it was shutting down): the trial itself did not fail, and
    the scheduler asks for it again, with the same parameters, as a new attempt."""


class TrialPrunedData(BaseModel):
    model_config = ConfigDict(frozen=True)
    trainer_id: TrainerId
    trial_number: int
    epoch: int
    reason: Reason = ""
    last_val_accuracy: float | None = None


class TrialHealthAssessedData(BaseModel):
    model_config = ConfigDict(frozen=True)
    trial_number: int
    epoch: int
    final: bool = Field(description="True once the trial has ended and this is its last assessment.")
    assessment: HealthAssessment


class TrialHealthAlertData(BaseModel):
    model_config = ConfigDict(frozen=True)
    trial_number: int
    alert: HealthAlert


class ArtifactStoredData(BaseModel):
    model_config = ConfigDict(frozen=True)
    key: Key
    kind: Literal["model", "report_bundle", "plot", "other"]
    size_bytes: int


class ReportReadyData(BaseModel):
    model_config = ConfigDict(frozen=True)
    results_dir: Text
    bundle_key: Key
    bundle_path: Text | None = None
    best_trial_number: int | None = None


# ---- envelopes ------------------------------------------------------------------------------


class StudyCreated(_Envelope):
    type: Literal["study.created"] = "study.created"
    data: StudyCreatedData


class StudyStopRequested(_Envelope):
    type: Literal["study.stop_requested"] = "study.stop_requested"
    data: StudyStopRequestedData


class StudyResumeRequested(_Envelope):
    type: Literal["study.resume_requested"] = "study.resume_requested"
    data: StudyResumeRequestedData


class StudyResumed(_Envelope):
    type: Literal["study.resumed"] = "study.resumed"
    data: StudyResumedData


class StudyCompleted(_Envelope):
    type: Literal["study.completed"] = "study.completed"
    data: StudyCompletedData


class TrialRequested(_Envelope):
    type: Literal["trial.requested"] = "trial.requested"
    data: TrialRequestedData


class TrialStarted(_Envelope):
    type: Literal["trial.started"] = "trial.started"
    data: TrialStartedData


class TrialHeartbeat(_Envelope):
    type: Literal["trial.heartbeat"] = "trial.heartbeat"
    data: TrialHeartbeatData


class TrialEpochCompleted(_Envelope):
    type: Literal["trial.epoch_completed"] = "trial.epoch_completed"
    data: TrialEpochCompletedData


class TrialControl(_Envelope):
    type: Literal["trial.control"] = "trial.control"
    data: TrialControlData


class TrialCompleted(_Envelope):
    type: Literal["trial.completed"] = "trial.completed"
    data: TrialCompletedData


class TrialFailed(_Envelope):
    type: Literal["trial.failed"] = "trial.failed"
    data: TrialFailedData


class TrialPruned(_Envelope):
    type: Literal["trial.pruned"] = "trial.pruned"
    data: TrialPrunedData


class TrialHealthAssessed(_Envelope):
    type: Literal["trial.health_assessed"] = "trial.health_assessed"
    data: TrialHealthAssessedData


class TrialHealthAlert(_Envelope):
    type: Literal["trial.health_alert"] = "trial.health_alert"
    data: TrialHealthAlertData


class ArtifactStored(_Envelope):
    type: Literal["artifact.stored"] = "artifact.stored"
    data: ArtifactStoredData


class ReportReady(_Envelope):
    type: Literal["report.ready"] = "report.ready"
    data: ReportReadyData


EVENT_CLASSES: tuple[type[_Envelope], ...] = (
    StudyCreated,
    StudyStopRequested,
    StudyResumeRequested,
    StudyResumed,
    StudyCompleted,
    TrialRequested,
    TrialStarted,
    TrialHeartbeat,
    TrialEpochCompleted,
    TrialControl,
    TrialCompleted,
    TrialFailed,
    TrialPruned,
    TrialHealthAssessed,
    TrialHealthAlert,
    ArtifactStored,
    ReportReady,
)

Event = Annotated[
    StudyCreated
    | StudyStopRequested
    | StudyResumeRequested
    | StudyResumed
    | StudyCompleted
    | TrialRequested
    | TrialStarted
    | TrialHeartbeat
    | TrialEpochCompleted
    | TrialControl
    | TrialCompleted
    | TrialFailed
    | TrialPruned
    | TrialHealthAssessed
    | TrialHealthAlert
    | ArtifactStored
    | ReportReady,
    Field(discriminator="type"),
]

EVENT_TYPES: tuple[str, ...] = tuple(cls.model_fields["type"].default for cls in EVENT_CLASSES)

_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(raw: bytes | str) -> Event:
    """Decode one event from JSON; raises ``pydantic.ValidationError`` on anything malformed."""
    return _EVENT_ADAPTER.validate_json(raw)


def encode_event(event: _Envelope) -> bytes:
    return event.model_dump_json().encode()


EventEnvelope = _Envelope

"""The API's request and response models (JSON over HTTP); requests reuse the contracts' models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field, field_validator

from contracts.enums import DatasetName, Modality
from contracts.events import STUDY_NAME_PATTERN
from contracts.study import StudyConfig
from services.runtime.db.records import StudyRecord, TrialRecord

T = TypeVar("T")


class ErrorOut(BaseModel):
    """Every error: a message a person can act on (422s carry pydantic's list of field errors)."""

    detail: str | list[dict[str, Any]]


class OptimizeRequest(StudyConfig):
    """A study request: the contracts' ``StudyConfig`` plus an optional study name.

    ``data_dir`` here is a folder inside the server's data folder, named relative to it: the API never
    lets a client point a study at a file of its own choosing (the trainers check it again)."""

    study_name: str | None = Field(
        default=None,
        pattern=STUDY_NAME_PATTERN,
        description="Name of the study and of its results folder; generated when omitted. Letters, digits, _ . -",
    )

    @field_validator("data_dir")
    @classmethod
    def _inside_the_data_folder(cls, value: str | None) -> str | None:
        if value is None:
            return None
        path = PurePosixPath(value.replace("\\", "/"))
        if not value.strip() or len(value) > 255 or "\0" in value:
            raise ValueError("data_dir must be a folder name of at most 255 characters")
        if path.is_absolute() or value.startswith("~") or ":" in value or ".." in path.parts:
            raise ValueError(
                "data_dir must be a path relative to the server's data folder, without '..' (e.g. 'my_images')"
            )
        return str(path)

    def config(self) -> StudyConfig:
        return StudyConfig.model_validate(self.model_dump(exclude={"study_name"}))


class JobAccepted(BaseModel):
    job_id: str
    study_name: str
    state: str
    links: dict[str, str]


class StopAccepted(BaseModel):
    job_id: str
    state: Literal["stopping"] = "stopping"


class ResumeAccepted(BaseModel):
    job_id: str
    state: Literal["resuming"] = "resuming"


class Job(BaseModel):
    """A study as the read model knows it (``submitted`` until the reporter has recorded it)."""

    job_id: str
    name: str
    state: str
    dataset: str | None = None
    mode: str | None = None
    objective: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
    completed_at: datetime | None = None
    best_trial_id: str | None = None
    reason: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    owner: str | None = Field(default=None, description="The named token that submitted it (None: admin or CLI).")

    @classmethod
    def of(cls, record: StudyRecord, counts: dict[str, int] | None = None) -> Job:
        return cls(
            job_id=record.study_id,
            name=record.name,
            state=record.state,
            dataset=record.dataset,
            mode=record.mode,
            objective=record.objective,
            config=record.config,
            created_at=record.created_at,
            completed_at=record.completed_at,
            best_trial_id=record.best_trial_id,
            reason=record.reason,
            counts=counts if counts is not None else record.counts,
            owner=record.owner,
        )


class Trial(BaseModel):
    trial_id: str
    number: int | None = None
    attempt: int = 1
    state: str
    params: dict[str, Any] = Field(default_factory=dict)
    trainer_id: str | None = None
    architecture: str | None = None
    parameter_count: int | None = None
    metrics: dict[str, Any] | None = None
    val_accuracy: float | None = None
    score: float | None = None
    objective_score: float | None = None
    overall_health: float | None = None
    health: dict[str, Any] | None = None
    reason: str | None = None
    epochs_trained: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_seconds: float | None = None

    @classmethod
    def of(cls, record: TrialRecord) -> Trial:
        return cls.model_validate(record, from_attributes=True)


class BestTrial(Trial):
    """The best trial with its held-out test figures pulled out of ``metrics``: measured once after
    training on the test split, never used for selection (``test_split`` says where that split came from)."""

    test_accuracy: float | None = None
    test_loss: float | None = None
    test_ece: float | None = Field(default=None, description="Expected calibration error on the test split.")
    test_robustness: dict[str, float] = Field(
        default_factory=dict,
        description="Test accuracy under each shift (gaussian_noise, shift, rotation; text: token_dropout).",
    )
    test_split: str | None = None

    @classmethod
    def of(cls, record: TrialRecord) -> BestTrial:
        metrics = record.metrics or {}
        trial = Trial.of(record).model_dump()
        return cls(
            **trial,
            test_accuracy=metrics.get("test_accuracy"),
            test_loss=metrics.get("test_loss"),
            test_ece=metrics.get("test_ece"),
            test_robustness=metrics.get("test_robustness") or {},
            test_split=metrics.get("test_split") or None,
        )


class ParetoMember(BaseModel):
    number: int
    trial_id: str
    objective_score: float
    overall_health: float
    val_accuracy: float | None = None
    test_accuracy: float | None = None
    parameter_count: int | None = None


class ParetoFront(BaseModel):
    """A pareto study's front (by objective score, descending) and its recommended trial, the knee."""

    objectives: list[str]
    front: list[ParetoMember]
    recommended_trial: int | None
    rule: str


class Page(BaseModel, Generic[T]):
    total: int
    offset: int
    limit: int
    items: list[T]


class TrialSort(StrEnum):
    """Fields a trial page can be sorted by."""

    NUMBER = "number"
    SCORE = "score"
    VAL_ACCURACY = "val_accuracy"
    OVERALL_HEALTH = "overall_health"
    DURATION = "duration"


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


class TrialPoint(BaseModel):
    """One trial in the per-trial series; ``best_score`` is the best score up to this trial."""

    trial_id: str
    number: int | None
    state: str
    score: float | None
    best_score: float | None
    val_accuracy: float | None
    overall_health: float | None
    duration_seconds: float | None


class EpochPoint(BaseModel):
    trial_id: str
    number: int | None
    epoch: int
    loss: float | None
    accuracy: float | None
    val_loss: float | None
    val_accuracy: float | None
    epoch_seconds: float | None


class Alert(BaseModel):
    trial_id: str
    kind: str
    severity: str
    message: str
    epoch: int | None
    layer: str | None


class Trends(BaseModel):
    """Series for charts: per trial (by number; downsampled when long), a page of epochs (by trial, then
    epoch) and the alerts."""

    job_id: str
    trials: list[TrialPoint]
    epochs: list[EpochPoint]
    alerts: list[Alert]
    trials_total: int = Field(default=0, description="Trials in the study (``trials`` may show fewer).")
    epochs_total: int = Field(default=0, description="Epoch rows in the study; page with epochs_offset.")
    epochs_offset: int = 0
    alerts_total: int = Field(default=0, description="Alerts in the study (``alerts`` holds the latest ones).")


class Service(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"]
    version: str
    auth: Literal["token", "disabled"]
    reads_protected: bool


class Choice(BaseModel):
    value: str
    description: str
    default: bool = False
    modes: list[str] = Field(default_factory=list, description="Modes this choice is valid in.")


class Dataset(BaseModel):
    name: DatasetName
    modality: Modality
    description: str
    formats: list[str]
    num_classes: int | None
    input_shape: list[int] | None
    available: bool
    user_data: bool
    source: str | None = None
    num_samples: int | None = None
    problem: str | None = None
    download_url: str | None = None


class Sample(BaseModel):
    label: int
    class_name: str
    image_png_base64: str | None = Field(default=None, description="A PNG image, base64-encoded (image datasets).")
    text: str | None = Field(default=None, description="The first words of the document (text datasets).")


class DatasetPreview(BaseModel):
    name: DatasetName
    modality: Modality
    samples: list[Sample]

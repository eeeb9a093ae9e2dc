"""What a user asks for when starting a study; validated once here for the CLI and the API."""

from __future__ import annotations

import difflib
import math
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.enums import (
    DATASET_MODALITY,
    HEALTH_MODES,
    HEALTH_ONLY_OBJECTIVES,
    DatasetName,
    Modality,
    Mode,
    Objective,
    PrunerName,
    SamplerName,
)
from contracts.search_space import DEFAULT_SEARCH_SPACES, MAX_GRID_POINTS, MAX_PARAMS, ParamSpec, SearchSpace

DEFAULT_HEALTH_WEIGHT = 0.3
COLUMN_MAX_CHARS = 100


class BadFilePolicy(StrEnum):
    """What loading does with files of a user image folder that cannot be read as images."""

    SKIP = "skip"
    """Train on the readable files; the skipped ones are listed in the log, the notes and the report."""
    FAIL = "fail"
    """Refuse the dataset, listing every unreadable file."""


def _a_column_name(value: str) -> str:
    name = value.strip()
    if not name or any(not ch.isprintable() for ch in name):
        raise ValueError(f"must name a column of the CSV header (printable text, 1-{COLUMN_MAX_CHARS} characters)")
    return name


ColumnName = Annotated[str, Field(min_length=1, max_length=COLUMN_MAX_CHARS), AfterValidator(_a_column_name)]
"""A CSV column header, as the user writes it (matched without regard to case or surrounding spaces)."""


class StudyConfig(BaseModel):
    """A study request. Every field has a default except the dataset."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: DatasetName = Field(description="Dataset to train on; the modality picks CNN or LSTM.")
    mode: Mode = Field(
        default=Mode.HEALTH,
        description="simple: objective alone; health: objective blended with overall health; "
        "pareto: objective and overall health as two objectives (a front and its knee).",
    )
    optimize_for: Objective = Field(default=Objective.VAL_ACCURACY, description="Objective to optimize.")
    trials: int = Field(
        default=10, ge=1, le=10_000, description="Finished trials (completed or pruned) the study runs."
    )
    max_epochs: int = Field(default=5, ge=1, le=1_000, description="Upper bound on epochs per trial.")
    health_weight: float = Field(
        default=DEFAULT_HEALTH_WEIGHT, description="Weight of overall health in the health-mode blend, in [0, 1]."
    )
    parallelism: int = Field(
        default=1, ge=1, le=256, description="Trials in flight at once (one per trainer; the embedded run has one)."
    )
    sampler: SamplerName = Field(default=SamplerName.TPE, description="Optuna sampler.")
    pruner: PrunerName = Field(
        default=PrunerName.MEDIAN,
        description="Optuna pruner fed by per-epoch validation accuracy; 'health' (alone or as 'median+health', "
        "'hyperband+health') also stops a trial whose telemetry shows it cannot recover. Optuna cannot prune a "
        "multi-objective study, so mode=pareto applies only the health rules.",
    )
    seed: int | None = Field(
        default=None, description="Seed for the sampler, weight init and shuffling; data splits are fixed per dataset."
    )
    data_dir: str | None = Field(
        default=None, description="Folder with the dataset's original files (or the CSV for text_csv)."
    )
    max_samples: int | None = Field(
        default=None, ge=10, description="Cap on training samples (quick studies on big data)."
    )
    on_bad_files: BadFilePolicy = Field(
        default=BadFilePolicy.SKIP,
        description="Unreadable files in an image folder: skip them (listed in the log and report) or fail.",
    )
    text_column: ColumnName = Field(default="text", description="text_csv: the CSV column holding the text.")
    label_column: ColumnName = Field(default="label", description="text_csv: the CSV column holding the label.")
    search_space: list[ParamSpec] = Field(
        default_factory=list,
        max_length=MAX_PARAMS,
        description="Overrides of the default search space, by parameter name.",
    )
    max_retries: int = Field(default=2, ge=0, le=10, description="Times a trial whose trainer went silent is retried.")

    @field_validator("health_weight", mode="before")
    @classmethod
    def _a_weight(cls, value: object) -> float:
        weight = math.nan
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            try:
                weight = float(value)
            except ValueError:
                weight = math.nan
        if not 0.0 <= weight <= 1.0:  # NaN fails this too
            raise ValueError(f"health_weight must be a number in [0, 1], not {value!r}")
        return weight

    @model_validator(mode="after")
    def _objective_fits_mode(self) -> Self:
        if self.mode not in HEALTH_MODES and self.optimize_for in HEALTH_ONLY_OBJECTIVES:
            allowed = ", ".join(o.value for o in Objective if o not in HEALTH_ONLY_OBJECTIVES)
            raise ValueError(
                f"optimize_for={self.optimize_for.value} is a health objective and needs mode=health or pareto; "
                f"in simple mode choose one of: {allowed}"
            )
        if self.mode is Mode.PARETO and self.sampler is SamplerName.CMAES:
            raise ValueError(
                "sampler=cmaes cannot optimize two objectives; with mode=pareto choose tpe, random, gp or grid"
            )
        if self.dataset in (DatasetName.IMAGE_FOLDER, DatasetName.TEXT_CSV) and not self.data_dir:
            raise ValueError(f"dataset={self.dataset.value} needs data_dir=PATH pointing at your data")
        if self.text_column.lower() == self.label_column.lower():
            raise ValueError(
                f"text_column and label_column both name the column '{self.text_column}'; they must differ"
            )
        defaults = DEFAULT_SEARCH_SPACES[self.modality].names()
        for spec in self.search_space:
            if spec.name not in defaults:
                close = difflib.get_close_matches(spec.name, defaults, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise ValueError(
                    f"search space: unknown parameter '{spec.name}' for {self.modality.value} models; {hint}"
                    f"known: {', '.join(defaults)}"
                )
        if self.sampler is SamplerName.GRID:
            points = self.effective_search_space().grid_size()
            if points > MAX_GRID_POINTS:
                raise ValueError(
                    f"sampler=grid would enumerate {points:,} points, more than the limit of {MAX_GRID_POINTS:,}; "
                    "narrow the search space (fewer choices, or fix parameters) or use sampler=tpe or random"
                )
        return self

    @property
    def modality(self) -> Modality:
        return DATASET_MODALITY[self.dataset]

    def effective_search_space(self) -> SearchSpace:
        return DEFAULT_SEARCH_SPACES[self.modality].with_overrides(self.search_space)

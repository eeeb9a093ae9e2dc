"""Every enumeration the services share, defined once."""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """How a study scores its trials."""

    SIMPLE = "simple"
    HEALTH = "health"
    PARETO = "pareto"
    """Two objectives, the objective's score and overall health; the result is a Pareto front and its knee."""


HEALTH_MODES: frozenset[Mode] = frozenset({Mode.HEALTH, Mode.PARETO})
"""Modes whose score needs the final health assessment (and that accept health-only objectives)."""


class Objective(StrEnum):
    """What a study optimizes. See ``contracts.objectives`` for directions and [0, 1] mappings."""

    VAL_ACCURACY = "val_accuracy"
    ACCURACY = "accuracy"
    TRAINING_TIME = "training_time"
    PARAMETER_EFFICIENCY = "parameter_efficiency"
    MEMORY_EFFICIENCY = "memory_efficiency"
    OVERALL_HEALTH = "overall_health"
    NEURON_UTILIZATION = "neuron_utilization"
    TRAINING_STABILITY = "training_stability"


HEALTH_ONLY_OBJECTIVES: frozenset[Objective] = frozenset(
    {Objective.OVERALL_HEALTH, Objective.NEURON_UTILIZATION, Objective.TRAINING_STABILITY}
)


class Modality(StrEnum):
    """The kind of input a dataset holds; it picks the model builder."""

    IMAGE = "image"
    TEXT = "text"


class DatasetName(StrEnum):
    """Built-in datasets plus the two shapes of user data."""

    MNIST = "mnist"
    FASHION_MNIST = "fashion_mnist"
    CIFAR10 = "cifar10"
    CIFAR100 = "cifar100"
    GTSRB = "gtsrb"
    IMDB = "imdb"
    REUTERS = "reuters"
    DIGITS = "digits"
    IMAGE_FOLDER = "image_folder"
    TEXT_CSV = "text_csv"


DATASET_MODALITY: dict[DatasetName, Modality] = {
    DatasetName.MNIST: Modality.IMAGE,
    DatasetName.FASHION_MNIST: Modality.IMAGE,
    DatasetName.CIFAR10: Modality.IMAGE,
    DatasetName.CIFAR100: Modality.IMAGE,
    DatasetName.GTSRB: Modality.IMAGE,
    DatasetName.DIGITS: Modality.IMAGE,
    DatasetName.IMAGE_FOLDER: Modality.IMAGE,
    DatasetName.IMDB: Modality.TEXT,
    DatasetName.REUTERS: Modality.TEXT,
    DatasetName.TEXT_CSV: Modality.TEXT,
}


class SamplerName(StrEnum):
    TPE = "tpe"
    RANDOM = "random"
    CMAES = "cmaes"
    GP = "gp"
    GRID = "grid"


class PrunerName(StrEnum):
    """``health`` stops a trial whose telemetry shows it cannot recover; ``+health`` adds those rules to a pruner."""

    MEDIAN = "median"
    HYPERBAND = "hyperband"
    NONE = "none"
    HEALTH = "health"
    MEDIAN_HEALTH = "median+health"
    HYPERBAND_HEALTH = "hyperband+health"

    @property
    def uses_health(self) -> bool:
        return self in (PrunerName.HEALTH, PrunerName.MEDIAN_HEALTH, PrunerName.HYPERBAND_HEALTH)

    @property
    def optuna_pruner(self) -> PrunerName:
        """The Optuna pruner behind this choice (``none`` for ``health`` alone)."""
        return {
            PrunerName.HEALTH: PrunerName.NONE,
            PrunerName.MEDIAN_HEALTH: PrunerName.MEDIAN,
            PrunerName.HYPERBAND_HEALTH: PrunerName.HYPERBAND,
        }.get(self, self)


class TrialState(StrEnum):
    REQUESTED = "requested"
    RUNNING = "running"
    COMPLETED = "completed"
    PRUNED = "pruned"
    FAILED = "failed"


class StudyState(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    STOPPED = "stopped"
    FAILED = "failed"


class ControlAction(StrEnum):
    """What the scheduler tells a running trial.

    ``prune`` and ``stop`` end it at its next batch or epoch boundary; ``superseded`` ends it at once and
    its trainer publishes no result (the attempt was given up: its trainer went silent and the trial was
    failed or retried elsewhere); ``continue`` is the pruner's verdict that the trial goes on after
    ``epoch`` (a trainer that waits for verdicts moves on at once instead of at its timeout)."""

    PRUNE = "prune"
    STOP = "stop"
    SUPERSEDED = "superseded"
    CONTINUE = "continue"


class AlertKind(StrEnum):
    VANISHING_GRADIENTS = "vanishing_gradients"
    EXPLODING_GRADIENTS = "exploding_gradients"
    DEAD_LAYER = "dead_layer"
    SATURATED_LAYER = "saturated_layer"
    DIVERGENCE = "divergence"
    OVERFITTING = "overfitting"


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


class ParamType(StrEnum):
    INT = "int"
    FLOAT = "float"
    CATEGORICAL = "categorical"

"""Per-epoch training telemetry, measured by the trainer on a fixed probe batch."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Histogram(BaseModel):
    """A fixed-bin histogram: ``len(edges) == len(counts) + 1``."""

    model_config = ConfigDict(frozen=True)

    edges: list[float]
    counts: list[int]


class LayerTelemetry(BaseModel):
    """Statistics of one layer for one epoch. ``None`` means "not applicable to this layer"."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str = Field(description="Keras layer class name, e.g. Conv2D, LSTM, Dense.")
    parameter_count: int = 0
    gradient_norm: float | None = Field(
        default=None, description="L2 norm of the loss gradient w.r.t. the layer's trainable weights."
    )
    weight_mean: float | None = None
    weight_std: float | None = None
    weight_abs_max: float | None = None
    bias_mean: float | None = None
    bias_std: float | None = None
    weight_histogram: Histogram | None = None
    bias_histogram: Histogram | None = None
    activation_mean: float | None = None
    activation_std: float | None = None
    dead_fraction: float | None = Field(
        default=None, description="Share of units that never activate (output <= 0 for ReLU-like) on the probe batch."
    )
    saturated_fraction: float | None = Field(
        default=None,
        description="Share of units pinned near a saturation bound (tanh/sigmoid) on the probe batch.",
    )


class EpochTelemetry(BaseModel):
    """Everything measured at the end of one epoch. Losses are ``None`` when they were NaN/Inf."""

    model_config = ConfigDict(frozen=True)

    epoch: int = Field(ge=1)
    loss: float | None
    accuracy: float | None
    val_loss: float | None
    val_accuracy: float | None
    learning_rate: float | None = None
    epoch_seconds: float = Field(default=0.0, description="Wall time of the epoch, validation included.")
    samples_per_second: float = Field(default=0.0, description="Training throughput (training batches only).")
    memory_rss_mb: float = 0.0
    telemetry_seconds: float = Field(default=0.0, description="Time spent measuring this telemetry.")
    layers: list[LayerTelemetry] = Field(default_factory=list)


class TrialMetrics(BaseModel):
    """Final figures of a trial, the inputs of every objective."""

    model_config = ConfigDict(frozen=True)

    val_accuracy: float
    accuracy: float
    val_loss: float | None = None
    loss: float | None = None
    test_accuracy: float | None = Field(
        default=None, description="Accuracy on the held-out test split, measured once after training; never selects."
    )
    test_loss: float | None = Field(default=None, description="Loss on the held-out test split.")
    test_ece: float | None = Field(
        default=None, description="Expected calibration error on the test split (15 equal-width confidence bins)."
    )
    test_robustness: dict[str, float] = Field(
        default_factory=dict,
        description="Test accuracy under simple shifts, by name (images: gaussian_noise, shift, rotation; "
        "text: token_dropout).",
    )
    test_split: str = Field(
        default="",
        max_length=300,
        description="Where the test split came from: the dataset's own, or made by the loader (and how).",
    )
    training_seconds: float = Field(description="Wall time of training: every epoch, validation and telemetry.")
    parameter_count: int
    memory_mb: float = Field(
        description="Estimated training footprint: weights, optimizer slots and one batch of activations."
    )
    epochs_trained: int
    gpu_seconds: float | None = Field(
        default=None, description="Billed GPU time of a trial trained on a rented GPU (RunPod), else none."
    )
    cost_usd: float | None = Field(default=None, description="What that GPU time cost, in US dollars.")

"""Every metric hpo exports, in one place: name, type, labels, who exports it, what it means, and
whether a dashboard shows it. ``dashboards/METRICS.md`` is generated from this table.

``tests/unit/observability/test_metric_catalog.py`` checks it against the code: every metric here is in
a service's registry and every metric there is here; every metric a dashboard or rule uses is here,
and every metric here is used by one or says why not (``shown=False`` with a ``note``).

Cardinality: ``service``, ``queue``, ``type``, ``cause``, ``state``, ``kind``, ``component``, ``split``
and ``gpu`` take values fixed by the code or the machine; ``trainer`` one per trainer process;
``layer`` the model builders' layer names (at most 32 per trainer); ``study`` one per study a service
keeps (bounded and expired: ``studies.py``, ``training.py``, ``health.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MetricType = Literal["counter", "gauge", "histogram"]
BUS = "every service"


@dataclass(frozen=True)
class MetricDoc:
    name: str
    """As Prometheus stores it (counters end in ``_total``; a histogram adds ``_bucket``, ``_sum``, ``_count``)."""
    type: MetricType
    labels: tuple[str, ...]
    exporter: str
    meaning: str
    shown: bool = True
    note: str = ""
    external: bool = False
    """Exported by RabbitMQ or Prometheus itself, not by hpo code."""

    @property
    def series_names(self) -> tuple[str, ...]:
        if self.type == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


def _m(
    name: str,
    type_: MetricType,
    labels: str,
    exporter: str,
    meaning: str,
    *,
    shown: bool = True,
    note: str = "",
    external: bool = False,
) -> MetricDoc:
    return MetricDoc(name, type_, tuple(labels.split()), exporter, meaning, shown, note, external)


METRICS: tuple[MetricDoc, ...] = (
    # ---- every service: the bus (metrics.py) -------------------------------------------------------------------
    _m("hpo_events_published_total", "counter", "service type", BUS, "Events the service published."),
    _m("hpo_events_handled_total", "counter", "service queue type", BUS, "Events its handlers handled."),
    _m("hpo_events_failed_total", "counter", "service queue type", BUS, "Handler failures, before any retry."),
    _m(
        "hpo_event_retries_total", "counter", "service queue type", BUS,
        "Handler calls for an event whose previous call on the queue failed (redeliveries that reach a handler).",
    ),
    _m("hpo_event_handler_seconds", "histogram", "service queue type", BUS, "Time a handler took."),
    _m("hpo_event_lag_seconds", "histogram", "service queue type", BUS, "Event time to the start of its handling."),
    _m(
        "hpo_messages_dead_lettered_total", "counter", "service queue cause", BUS,
        "Messages moved to a dead-letter queue; cause: malformed, fatal or gave_up.",
    ),
    _m(
        "hpo_stale_events_total", "counter", "service queue type", BUS,
        "Events of superseded attempts or finished trials, acknowledged without effect.",
    ),
    _m(
        "hpo_database_errors_total", "counter", "service", BUS,
        "Handler failures caused by a database error (SQLAlchemy, psycopg, sqlite3, Optuna's storage).",
    ),
    _m("hpo_service_ready", "gauge", "service", BUS, "1 while the service is ready (/readyz answers 200)."),
    _m("hpo_broker_connected", "gauge", "service", BUS, "1 while the service's RabbitMQ connection is open."),
    # ---- scheduler (studies.py) -----------------------------------------------------------------------------
    _m("hpo_studies_running", "gauge", "", "scheduler", "Studies running now."),
    _m("hpo_studies_ended_total", "counter", "state", "scheduler", "Studies ended: completed, stopped or failed."),
    _m(
        "hpo_trials_total", "counter", "state", "scheduler",
        "Trials of every study by state: requested, started, completed, pruned, failed.",
    ),
    _m("hpo_trial_duration_seconds", "histogram", "", "scheduler", "Training time of each completed trial."),
    _m("hpo_study_info", "gauge", "study study_name", "scheduler", "1 for each study kept; names it."),
    _m(
        "hpo_study_started_timestamp_seconds", "gauge", "study", "scheduler",
        "When a running study started or resumed (Unix time); gone once it ends.",
    ),
    _m("hpo_study_trials_total", "counter", "study state", "scheduler", "A study's trials by state."),
    _m("hpo_study_best_score", "gauge", "study", "scheduler", "A study's best score so far (what Optuna maximizes)."),
    # ---- trainer (training.py, services/trainer/gpu.py) ----------------------------------------------------------
    _m("hpo_trainer_busy", "gauge", "trainer", "trainer", "1 while the trainer runs a trial."),
    _m(
        "hpo_epoch_seconds", "histogram", "trainer", "trainer", "Duration of every epoch the trainer trained.",
        shown=False, note="the dashboards plot each trainer's last epoch time (hpo_trial_epoch_seconds) instead",
    ),
    _m("hpo_trial_number", "gauge", "study trainer", "trainer", "Number of the trial the trainer runs."),
    _m("hpo_trial_epoch", "gauge", "study trainer", "trainer", "Last epoch the current trial finished (0: none yet)."),
    _m("hpo_trial_max_epochs", "gauge", "study trainer", "trainer", "Epochs the current trial may train."),
    _m("hpo_trial_loss", "gauge", "study trainer split", "trainer", "Last epoch's loss; split: train, validation."),
    _m("hpo_trial_accuracy", "gauge", "study trainer split", "trainer", "Accuracy at the last epoch, by split."),
    _m("hpo_trial_epoch_seconds", "gauge", "study trainer", "trainer", "Wall time of the last epoch."),
    _m("hpo_trial_samples_per_second", "gauge", "study trainer", "trainer", "Training throughput of the last epoch."),
    _m("hpo_trial_memory_rss_bytes", "gauge", "study trainer", "trainer", "Resident memory of the training process."),
    _m(
        "hpo_layer_gradient_norm", "gauge", "study trainer layer", "trainer",
        "L2 norm of the loss gradient of a layer's weights, on the probe batch.",
    ),
    _m("hpo_layer_dead_fraction", "gauge", "study trainer layer", "trainer", "Share of a layer's units never active."),
    _m(
        "hpo_layer_saturated_fraction", "gauge", "study trainer layer", "trainer",
        "Share of a layer's units pinned at a saturation bound.",
    ),
    _m(
        "hpo_trainer_gpu_utilization_ratio", "gauge", "trainer gpu", "trainer",
        "GPU busy share (0 to 1) from nvidia-smi; absent without an NVIDIA GPU.",
    ),
    _m("hpo_trainer_gpu_memory_used_bytes", "gauge", "trainer gpu", "trainer", "GPU memory in use; GPU only."),
    _m("hpo_trainer_gpu_memory_total_bytes", "gauge", "trainer gpu", "trainer", "GPU memory in all; GPU only."),
    # ---- health (health.py) ------------------------------------------------------------------------------------
    _m(
        "hpo_trial_health", "gauge", "study component", "health",
        "Health of the study's last finished trial: component overall and each of the five, in [0, 1].",
    ),
    _m("hpo_health_alerts_total", "counter", "study kind", "health", "Health alerts raised, by kind."),
    # ---- not ours: RabbitMQ's rabbitmq_prometheus plugin, Prometheus ---------------------------------------------
    _m(
        "rabbitmq_detailed_queue_messages_ready", "gauge", "vhost queue", "rabbitmq",
        "Messages waiting in a queue (/metrics/detailed?family=queue_coarse_metrics).", external=True,
    ),
    _m(
        "rabbitmq_detailed_queue_consumers", "gauge", "vhost queue", "rabbitmq",
        "Consumers of a queue (/metrics/detailed?family=queue_consumer_count).", external=True,
    ),
    _m(
        "rabbitmq_global_messages_redelivered_total", "counter", "protocol", "rabbitmq",
        "Messages the broker redelivered (a consumer went away before acknowledging).", external=True,
    ),
    _m("up", "gauge", "job instance", "prometheus", "1 when the last scrape of a target succeeded.", external=True),
)  # fmt: skip


def by_name() -> dict[str, MetricDoc]:
    return {doc.name: doc for doc in METRICS}


def markdown() -> str:
    """The catalog as a Markdown table (``dashboards/METRICS.md``)."""
    lines = [
        "# Metrics",
        "",
        "Generated from `services/runtime/observability/catalog.py` by `python -m dashboards.generate`; do not edit.",
        "",
        "| name | type | labels | exported by | meaning | on a dashboard |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for doc in METRICS:
        shown = "yes" if doc.shown else f"no: {doc.note}"
        labels = ", ".join(f"`{label}`" for label in doc.labels) or "-"
        lines.append(f"| `{doc.name}` | {doc.type} | {labels} | {doc.exporter} | {doc.meaning} | {shown} |")
    return "\n".join(lines) + "\n"

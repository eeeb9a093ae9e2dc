"""Training live, per study: the current trials' epochs, losses and accuracies, health, layers, resources."""

from __future__ import annotations

from typing import Any

from dashboards.panels import Board, Query, variable

UID = "hpo-training-live"
TRIAL = 'study="$study", trainer=~"$trainer"'
IN_STUDY = 'and on (trainer) max by (trainer) (hpo_trial_epoch{study="$study"})'
"""Appended to a per-trainer expression without a study label: keeps the trainers of the study."""


def build() -> dict[str, Any]:
    board = Board(
        UID,
        "hpo: training live",
        "One study as it trains: each trainer's current trial epoch by epoch, the health of finished trials, "
        "what the layers do, and what training costs (time, memory, GPU).",
    )
    board.variables(
        variable(
            "study",
            "Study",
            "query_result(max by (study, study_name) (hpo_study_info))",
            regex='/study="(?<value>[^"]+)",study_name="(?<text>[^"]+)"/',
        ),
        variable("trainer", "Trainer", 'label_values(hpo_trial_epoch{study="$study"}, trainer)', include_all=True),
    )
    board.row("Current trial")
    board.stat(
        "Trial",
        "The trial each trainer runs.",
        [Query(f"max by (trainer) (hpo_trial_number{{{TRIAL}}})", "{{trainer}}")],
    )
    board.stat(
        "Epoch",
        "The last epoch each trainer's current trial finished.",
        [Query(f"max by (trainer) (hpo_trial_epoch{{{TRIAL}}})", "{{trainer}}")],
    )
    board.stat(
        "Max epochs",
        "Epochs the current trial may train (fewer when pruned or stopped early).",
        [Query(f"max by (trainer) (hpo_trial_max_epochs{{{TRIAL}}})", "{{trainer}}")],
    )
    board.stat(
        "Busy trainers",
        "Trainers of this study training right now.",
        [Query(f'sum(max by (trainer) (hpo_trainer_busy{{trainer=~"$trainer"}}) {IN_STUDY})', "busy")],
    )
    board.timeseries(
        "Loss per epoch",
        "Training and validation loss at each trainer's last epoch (NaN when it diverged).",
        [Query(f"max by (trainer, split) (hpo_trial_loss{{{TRIAL}}})", "{{trainer}} {{split}}")],
        "none",
        stepped=True,
    )
    board.timeseries(
        "Accuracy per epoch",
        "Training and validation accuracy at each trainer's last epoch.",
        [Query(f"max by (trainer, split) (hpo_trial_accuracy{{{TRIAL}}})", "{{trainer}} {{split}}")],
        "percentunit",
        min_value=0,
        max_value=1,
        stepped=True,
    )
    board.row("Health")
    board.timeseries(
        "Overall health of the last finished trials",
        "Weighted mean of the five health components of the study's most recently finished trial.",
        [Query('max by (study) (hpo_trial_health{study="$study", component="overall"})', "overall health")],
        "percentunit",
        min_value=0,
        max_value=1,
        stepped=True,
    )
    board.timeseries(
        "Health components",
        "Neuron utilization, gradient health, training stability, convergence and parameter efficiency of the "
        "most recently finished trial (definitions: services/health).",
        [Query('max by (component) (hpo_trial_health{study="$study", component!="overall"})', "{{component}}")],
        "percentunit",
        min_value=0,
        max_value=1,
        stepped=True,
    )
    board.timeseries(
        "Health alerts per minute, by kind",
        "Vanishing or exploding gradients, dead or saturated layers, divergence, overfitting.",
        [Query('sum by (kind) (rate(hpo_health_alerts_total{study="$study"}[$__rate_interval])) * 60', "{{kind}}")],
        "short",
        width=24,
    )
    board.row("Layers")
    board.timeseries(
        "Dead units, by layer",
        "Share of each layer's units that never activate on the probe batch, at the last epoch.",
        [Query(f"max by (trainer, layer) (hpo_layer_dead_fraction{{{TRIAL}}})", "{{trainer}} {{layer}}")],
        "percentunit",
        width=8,
        min_value=0,
        max_value=1,
        stepped=True,
    )
    board.timeseries(
        "Saturated units, by layer",
        "Share of each tanh or sigmoid layer's units pinned near a saturation bound, at the last epoch (ReLU-like "
        "layers cannot saturate and have no series).",
        [Query(f"max by (trainer, layer) (hpo_layer_saturated_fraction{{{TRIAL}}})", "{{trainer}} {{layer}}")],
        "percentunit",
        width=8,
        min_value=0,
        max_value=1,
        stepped=True,
    )
    board.timeseries(
        "Gradient norm, by layer",
        "L2 norm of each layer's gradient on the probe batch (log scale: vanishing below 1e-7, exploding above 1e3).",
        [Query(f"max by (trainer, layer) (hpo_layer_gradient_norm{{{TRIAL}}})", "{{trainer}} {{layer}}")],
        "none",
        width=8,
        log_scale=True,
        stepped=True,
    )
    board.row("Resources")
    board.timeseries(
        "Epoch time",
        "Wall time of each trainer's last epoch, validation and telemetry included.",
        [Query(f"max by (trainer) (hpo_trial_epoch_seconds{{{TRIAL}}})", "{{trainer}}")],
        "s",
        width=8,
        stepped=True,
    )
    board.timeseries(
        "Samples per second",
        "Training throughput of each trainer's last epoch.",
        [Query(f"max by (trainer) (hpo_trial_samples_per_second{{{TRIAL}}})", "{{trainer}}")],
        "short",
        width=8,
        stepped=True,
    )
    board.timeseries(
        "Process memory",
        "Resident memory of the process training each trainer's trial.",
        [Query(f"max by (trainer) (hpo_trial_memory_rss_bytes{{{TRIAL}}})", "{{trainer}}")],
        "bytes",
        width=8,
        stepped=True,
    )
    board.timeseries(
        "GPU utilization",
        "Busy share of each GPU of the study's trainers (nvidia-smi); no data on trainers without a GPU.",
        [
            Query(
                f'max by (trainer, gpu) (hpo_trainer_gpu_utilization_ratio{{trainer=~"$trainer"}}) {IN_STUDY}',
                "{{trainer}} gpu {{gpu}}",
            )
        ],
        "percentunit",
        min_value=0,
        max_value=1,
    )
    board.timeseries(
        "GPU memory",
        "Memory in use and in all of each GPU of the study's trainers; no data on trainers without a GPU.",
        [
            Query(
                f'max by (trainer, gpu) (hpo_trainer_gpu_memory_used_bytes{{trainer=~"$trainer"}}) {IN_STUDY}',
                "{{trainer}} gpu {{gpu}} used",
            ),
            Query(
                f'max by (trainer, gpu) (hpo_trainer_gpu_memory_total_bytes{{trainer=~"$trainer"}}) {IN_STUDY}',
                "{{trainer}} gpu {{gpu}} total",
            ),
        ],
        "bytes",
    )
    return board.to_json()

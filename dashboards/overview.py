"""Studies overview: studies by state, trial rates and outcomes, best scores, durations, trainer load."""

from __future__ import annotations

from typing import Any

from dashboards.panels import Board, Query

UID = "hpo-studies-overview"
TRAINER_WORK = 'queue=~".*trainer[.]work"'
NAMED = "* on (study) group_left (study_name) max by (study, study_name) (hpo_study_info)"
"""Appended to a per-study expression: adds the study's name for the legend."""


def build() -> dict[str, Any]:
    board = Board(
        UID,
        "hpo: studies overview",
        "Every study at a glance: how many run, how their trials end, the best score so far, and whether the "
        "trainers keep up with trainer.work.",
    )
    board.row("Studies")
    board.stat("Studies running", "Studies the scheduler runs now.", [Query("sum(hpo_studies_running)", "running")])
    board.bars(
        "Studies ended in the time range, by state",
        "Completed, stopped or failed studies within the dashboard's time range.",
        [Query("sum by (state) (increase(hpo_studies_ended_total[$__range]))", "{{state}}", instant=True)],
    )
    board.bars(
        "Trials finished in the time range, by state",
        "Trials of every study that completed, were pruned or failed within the time range.",
        [
            Query(
                'sum by (state) (increase(hpo_trials_total{state=~"completed|pruned|failed"}[$__range]))',
                "{{state}}",
                instant=True,
            )
        ],
        width=12,
    )
    board.timeseries(
        "Trials per minute, by state",
        "Trials requested, started, completed, pruned and failed per minute, every study together.",
        [Query("hpo:trials:per_minute", "{{state}}")],
        "short",
        width=24,
    )
    board.row("Scores and outcomes")
    board.timeseries(
        "Best score so far, per study",
        "The highest score (what Optuna maximizes) of each study's completed trials.",
        [Query(f"max by (study) (hpo_study_best_score) {NAMED}", "{{study_name}}")],
        "none",
        min_value=0,
        max_value=1,
        stepped=True,
    )
    board.timeseries(
        "Pruned and failed share of finished trials, per study",
        "Of each study's finished trials (completed + pruned + failed), the share pruned and the share failed.",
        [
            Query(
                'sum by (study, state) (hpo_study_trials_total{state=~"pruned|failed"}) / ignoring (state) '
                f"group_left clamp_min(hpo:study_trials:finished, 1) {NAMED}",
                "{{study_name}} {{state}}",
            )
        ],
        "percentunit",
        min_value=0,
        max_value=1,
    )
    board.timeseries(
        "Trial duration (median and 90th percentile, last 30 min)",
        "Training time of completed trials, every study together.",
        [Query("hpo:trial_duration_seconds:quantile", "quantile {{quantile}}")],
        "s",
    )
    board.bars(
        "Trial durations in the time range",
        "How many completed trials took up to each bucket's time.",
        [Query("sum by (le) (increase(hpo_trial_duration_seconds_bucket[$__range]))", "{{le}}", heatmap=True)],
        width=12,
    )
    board.row("Trainers")
    board.timeseries(
        "trainer.work: waiting trials, consumers, busy trainers",
        "Trial requests waiting in trainer.work (RabbitMQ's plugin), the trainers consuming it, and how many "
        "of them train right now (their own hpo_trainer_busy).",
        [
            Query(f"sum by (queue) (rabbitmq_detailed_queue_messages_ready{{{TRAINER_WORK}}})", "{{queue}} waiting"),
            Query(f"sum by (queue) (rabbitmq_detailed_queue_consumers{{{TRAINER_WORK}}})", "{{queue}} consumers"),
            Query("sum(hpo_trainer_busy)", "busy trainers"),
        ],
        "short",
        stepped=True,
    )
    board.timeseries(
        "Busy, per trainer",
        "1 while a trainer runs a trial, 0 while it waits for one.",
        [Query("max by (trainer) (hpo_trainer_busy)", "{{trainer}}")],
        "short",
        min_value=0,
        max_value=1,
        stepped=True,
    )
    return board.to_json()

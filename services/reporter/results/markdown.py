"""``report.md``: the study config, what the trainer said about the data (files skipped or ignored,
how it was split), the best trial with its health breakdown and alerts, how every trial was scored,
outcome counts with failure reasons, and links to every plot and file."""

from __future__ import annotations

import re
from typing import Any

from contracts.enums import Mode
from contracts.health import HEALTH_COMPONENTS
from services.reporter.plots import PlotIndex
from services.reporter.plots.trial import architecture_text
from services.reporter.results import pareto, test_results
from services.reporter.results.importance import Importance
from services.reporter.results.tables import fmt, table
from services.reporter.results.view import StudyView, TrialView

STUDY_PLOT_TITLES: dict[str, str] = {
    "optimization_history": "Optimization history",
    "param_importance": "Hyperparameter importance",
    "parallel_coordinates": "Parallel coordinates",
    "objective_vs_health": "Objective vs health",
    "pareto_front": "Pareto front",
    "best_trial": "Best trial",
}
TRIAL_PLOT_TITLES: dict[str, str] = {
    "learning_curves": "learning curves",
    "gradient_flow": "gradient flow",
    "weight_distributions": "weights",
    "unit_fractions": "dead/saturated units",
    "architecture": "architecture",
}


def _value(value: Any) -> str:
    """A hyperparameter or setting as a person writes it (no fixed number of decimals)."""
    return f"{value:.4g}" if isinstance(value, float) else fmt(value)


def _summary(view: StudyView) -> list[str]:
    study, rule = view.study, view.rule
    mode = {
        Mode.HEALTH: f"health: (1 - {rule.health_weight:.2f}) x objective_score + {rule.health_weight:.2f} x "
        "overall_health",
        Mode.PARETO: "pareto: objective_score and overall_health as two objectives; the best trial is the front's knee",
    }.get(rule.mode, "simple: the objective alone (health measured and reported, not optimized)")
    state = study.state + (f" ({study.reason})" if study.reason else "")
    rows: list[list[Any]] = [
        ["study id", f"`{study.study_id}`"],
        ["state", state],
        ["dataset", study.dataset],
        ["objective", rule.objective.value],
        ["mode", mode],
        ["created", study.created_at],
        ["finished", study.completed_at],
    ]
    return [f"# Study report: {study.name}", "", *test_results.headline(view), *table(["", ""], rows)]


def _config(view: StudyView) -> list[str]:
    lines = ["## Configuration", ""]
    if view.config is None:
        return [*lines, "The study's configuration was not recorded.", ""]
    settings = view.config.model_dump(mode="json", exclude={"search_space"})
    lines += table(["setting", "value"], [[k, _value(v)] for k, v in settings.items()])
    rows = []
    for spec in view.param_specs.values():
        if spec.choices:
            values = ", ".join(str(c) for c in spec.choices)
        else:
            values = f"{spec.low:g} … {spec.high:g}" + (" (log)" if spec.log else "")
        rows.append([spec.name, spec.type.value, values])
    overridden = {p.name for p in view.config.search_space}
    lines += ["Search space" + (f" (overridden: {', '.join(sorted(overridden))})" if overridden else "") + ":", ""]
    return lines + table(["parameter", "type", "values"], rows)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>])")


def _plain(text: str) -> str:
    """``text`` shown as it is (a file name's ``*`` or ``_`` is no emphasis)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _data(view: StudyView) -> list[str]:
    """The data notes as a list; an indented line (a file of a listing) is an item of the line above it."""
    notes = view.study.data_notes
    if not notes:
        return []
    lines = ["## Data", ""]
    for note in notes:
        nested = note[:1].isspace() and len(lines) > 2
        lines.append(("  - " if nested else "- ") + _plain(note.strip()))
    return [*lines, ""]


def _outcome(view: StudyView) -> list[str]:
    counts = view.counts()
    total = len(view.trials)
    lines = ["## Outcome", ""]
    unfinished = counts["running"] + counts["requested"]
    lines += table(
        ["completed", "pruned", "failed", "unfinished", "total"],
        [[counts["completed"], counts["pruned"], counts["failed"], unfinished, total]],
    )
    lines += _gpu_cost(view)
    failures = view.failure_reasons()
    if failures:
        lines += ["Failure reasons:", ""] + [f"- Trial {label}: {reason}" for label, reason in failures] + [""]
    pruned = [t for t in view.trials if t.state == "pruned"]
    if pruned:
        lines += ["Pruned trials:", ""]
        lines += [f"- Trial {t.label} after epoch {t.record.epochs_trained}: {t.record.reason or ''}" for t in pruned]
        lines.append("")
    return lines


def _gpu_cost(view: StudyView) -> list[str]:
    """Trials trained on rented GPUs (RunPod) carry their GPU seconds and cost: the study's total."""
    billed = [
        t.record.metrics for t in view.trials if t.record.metrics and t.record.metrics.get("cost_usd") is not None
    ]
    if not billed:
        return []
    seconds = sum(float(m.get("gpu_seconds") or 0.0) for m in billed)
    cost = sum(float(m["cost_usd"]) for m in billed)
    return [
        f"GPU time: {seconds:.1f} s over {len(billed)} trials, cost ${cost:.4f} (${cost / len(billed):.4f} per trial).",
        "",
    ]


def _health(trial: TrialView) -> list[str]:
    assessment = trial.assessment
    if assessment is None:
        return ["### Health breakdown", "", "No health assessment was recorded for this trial.", ""]
    kind = "final assessment" if trial.health_final else "latest running assessment (no final one arrived)"
    lines = ["### Health breakdown", "", f"Overall health **{assessment.overall_health:.4f}** ({kind}).", ""]
    rows = [
        [
            name.replace("_", " ").capitalize(),
            getattr(assessment.components, name),
            assessment.weights.get(name),
            assessment.explanations.get(name, ""),
        ]
        for name in HEALTH_COMPONENTS
    ]
    return lines + table(["component", "value", "weight", "explanation"], rows)


def _alerts(trial: TrialView) -> list[str]:
    lines = ["### Alerts", ""]
    if not trial.alerts:
        return [*lines, "No health alerts.", ""]
    for alert in trial.alerts:
        where = ", ".join(
            part
            for part in (f"layer `{alert.layer}`" if alert.layer else "", f"epoch {alert.epoch}" if alert.epoch else "")
            if part
        )
        lines.append(f"- **{alert.severity}** {alert.kind}" + (f" ({where})" if where else "") + f": {alert.message}")
    return [*lines, ""]


def _trial_links(plots: PlotIndex, trial: TrialView) -> str:
    files = plots.trials.get(trial.slug, {})
    links = [f"[{TRIAL_PLOT_TITLES[name]}]({path})" for name, path in files.items()]
    links.append(f"[health data](health/{trial.slug}.json)")
    return " · ".join(links)


def _trial_files(plots: PlotIndex, trial: TrialView) -> str:
    if trial.slug in plots.trials:
        return _trial_links(plots, trial)
    if trial.telemetry:
        return f"no plots (not among the best) · [health data](health/{trial.slug}.json)"
    return f"no epochs recorded · [health data](health/{trial.slug}.json)"


def _best(view: StudyView, plots: PlotIndex, model_note: str) -> list[str]:
    best = view.best
    lines = [
        "## Best trial" + (" (recommended: the knee of the Pareto front)" if view.rule.mode is Mode.PARETO else ""),
        "",
    ]
    if best is None:
        return [*lines, "No trial completed with a score.", ""]
    record, breakdown = best.record, best.breakdown
    lines.append(f"Trial **{best.label}** (id `{record.trial_id}`), {record.epochs_trained} epochs.")
    lines.append("")
    if breakdown is not None:
        lines += [
            f"- Objective `{breakdown.objective.value}`, raw value: **{breakdown.raw_value:.4g}**",
            f"- Objective score (mapped to [0, 1]): {breakdown.objective_score:.4f}",
            f"- Score: **{breakdown.score:.4f}**, computed as `{breakdown.formula()}`",
        ]
    else:
        lines.append(f"- Score: {fmt(record.score)} ({best.unscored_reason})")
    lines += [f"- Model: {model_note}", ""]
    params = [[k, _value(v)] for k, v in record.params.items()]
    lines += ["### Hyperparameters", "", *table(["parameter", "value"], params)]
    lines += _health(best) + _alerts(best)
    lines += ["### Architecture", "", "```text", architecture_text(best), "```", ""]
    if "best_trial" in plots.study:
        lines += [f"![Best trial]({plots.study['best_trial']})", ""]
    lines += [f"Plots: {_trial_links(plots, best)}", ""]
    return lines


def _scores(view: StudyView) -> list[str]:
    rule = view.rule
    if rule.mode is Mode.HEALTH:
        lines = [
            "## How each trial was scored",
            "",
            f"Health mode blends the objective score with overall health: "
            f"`score = (1 - w) x objective_score + w x overall_health` with w = {rule.health_weight:.2f}. "
            f"Pruned and failed trials get no score.",
            "",
        ]
    elif rule.mode is Mode.PARETO:
        lines = [
            "## Trial scores",
            "",
            "Pareto mode: Optuna maximizes `(objective_score, overall_health)`; `score = objective_score` orders "
            "this table. Optuna cannot prune a multi-objective study: only the health pruner's rules stop trials.",
            "",
        ]
    else:
        lines = ["## Trial scores", "", "Simple mode: `score = objective_score`; health is shown, not used.", ""]
    rows = []
    for trial in view.trials:
        b = trial.breakdown
        rows.append(
            [
                trial.label,
                trial.state,
                b.raw_value if b else None,
                b.objective_score if b else None,
                trial.record.overall_health,
                f"`{b.formula()}`" if b else trial.unscored_reason,
            ]
        )
    headers = ["trial", "state", f"{rule.objective.value} (raw)", "objective score", "overall health", "score"]
    return lines + table(headers, rows)


def _plots(view: StudyView, plots: PlotIndex, importance: Importance) -> list[str]:
    lines = ["## Plots", "", "### Study", ""]
    for name, path in plots.study.items():
        title = STUDY_PLOT_TITLES.get(name, name)
        lines += [f"#### {title}", ""]
        if name == "param_importance":
            lines += [f"Method: {importance.method}. {importance.note.rstrip('.')}.", ""]
        lines += [f"![{title}]({path})", ""]
    lines += [
        "### Trials",
        "",
        "Overfitting epochs (shaded in the learning curves) are those with an overfitting alert "
        "or where validation loss rose above its best while training loss fell.",
        "",
    ]
    if plots.unplotted:
        lines += [
            f"Plots are drawn for the {len(plots.trials)} best trials by score; the other {plots.unplotted} trials"
            " with epochs have their figures in `trials.csv` and `health/` (`HPO_REPORTER_TRIAL_PLOTS` sets how many).",
            "",
        ]
    rows = [[trial.label, trial.state, trial.score, _trial_files(plots, trial)] for trial in view.trials]
    return lines + table(["trial", "state", "score", "plots and data"], rows)


def _files(model_note: str) -> list[str]:
    return [
        "## Files",
        "",
        f"- `best_model.keras`: {model_note}",
        "- `best_params.yaml`: the best trial's hyperparameters, score and held-out test figures",
        "- `trials.csv`: one row per trial attempt (parameters, objective, health components, score)",
        "- `health/trial_<n>.json`: assessment, alerts and per-epoch telemetry summary of each trial",
        "- `plots/`: study plots; `plots/trial_<n>/`: per-trial plots",
        "- `report.html`: this report as HTML",
        "",
    ]


def render_report(view: StudyView, plots: PlotIndex, importance: Importance, model_note: str) -> str:
    """The whole Markdown report."""
    sections = (
        _summary(view),
        _config(view),
        _data(view),
        _outcome(view),
        pareto.section(view, plots.study.get("pareto_front")),
        _best(view, plots, model_note),
        test_results.section(view),
        _scores(view),
        _plots(view, plots, importance),
        _files(model_note),
    )
    return "\n".join(line for section in sections for line in section).rstrip() + "\n"
